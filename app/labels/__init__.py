"""Unit labels after DONE: QR code (serial, certificate SHA-256 prefix, not-after) plus text.

Qt-free core: label content from the journal (:mod:`content`), the profile's
label settings (:mod:`settings`), one layout in millimetres (:mod:`layout`)
rendered as PDF/PNG (:mod:`render`) or ZPL (:mod:`zpl`), the outputs
(:mod:`outputs`), the after-DONE hook (:mod:`hook`) and reprints
(:mod:`reprint`). The system printer lives in ``ui/label_printer.py``.
"""
