"""The station's use cases, free of Qt: what a technician or field engineer asks the station to do.

The CLI (``app/cli``) and the station window (``ui/``) both call these and keep no
lifecycle or business rules of their own, so a batch, a resume or a renewal behaves the
same whichever view started it. One module per use case:

- :mod:`~certline.app.station.session`: open a session (journal, event bus, EST client) for a profile.
- :mod:`~certline.app.station.resume_choice`: which batch "resume" continues (one rule, written down).
- :mod:`~certline.app.station.hands_free`: provision units as they are plugged in.
- :mod:`~certline.app.station.renewal`: read and renew one unit's certificate.
- :mod:`~certline.app.station.expiry`: every certificate the station issued, soonest expiry first.
- :mod:`~certline.app.station.support_bundle`: the zip a technician sends when something went wrong.
"""

from certline.app.station.session import StationSession

__all__ = ["StationSession"]
