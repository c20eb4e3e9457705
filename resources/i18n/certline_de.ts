<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>BatchController</name>
    <message>
        <source>Batch %1 started</source>
        <translation>Charge %1 gestartet</translation>
    </message>
    <message>
        <source>Paused after the current step</source>
        <translation>Pause nach dem aktuellen Schritt</translation>
    </message>
    <message>
        <source>Resumed</source>
        <translation>Fortgesetzt</translation>
    </message>
    <message>
        <source>Stopped; some ports were still busy and will finish their step</source>
        <translation>Gestoppt; einige Ports waren noch beschäftigt und beenden ihren Schritt</translation>
    </message>
    <message numerus="yes">
        <source>Asking the EST server again for %n pending unit(s)</source>
        <translation>
            <numerusform>Frage den EST-Server erneut für %n wartendes Gerät</numerusform>
            <numerusform>Frage den EST-Server erneut für %n wartende Geräte</numerusform>
        </translation>
    </message>
    <message>
        <source>No unit is waiting for approval</source>
        <translation>Kein Gerät wartet auf Freigabe</translation>
    </message>
    <message numerus="yes">
        <source>Retrying %n failed device(s)</source>
        <translation>
            <numerusform>%n fehlgeschlagenes Gerät wird wiederholt</numerusform>
            <numerusform>%n fehlgeschlagene Geräte werden wiederholt</numerusform>
        </translation>
    </message>
    <message>
        <source>No failed device is still attached</source>
        <translation>Kein fehlgeschlagenes Gerät ist noch angeschlossen</translation>
    </message>
    <message numerus="yes">
        <source>%n waiting scan(s) forgotten</source>
        <translation>
            <numerusform>%n wartender Scan verworfen</numerusform>
            <numerusform>%n wartende Scans verworfen</numerusform>
        </translation>
    </message>
    <message>
        <source>skipped by the operator</source>
        <translation>vom Bediener übersprungen</translation>
    </message>
</context>
<context>
    <name>BatchCounters</name>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>Skipped</source>
        <translation>Übersprungen</translation>
    </message>
    <message>
        <source>In progress</source>
        <translation>In Arbeit</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Pending approval</source>
        <translation>Wartet auf Freigabe</translation>
    </message>
    <message>
        <source>Expected remaining</source>
        <translation>Erwartet verbleibend</translation>
    </message>
</context>
<context>
    <name>BatchSummaryDialog</name>
    <message>
        <source>Batch %1 finished</source>
        <translation>Charge %1 abgeschlossen</translation>
    </message>
    <message>
        <source>Units that failed:</source>
        <translation>Fehlgeschlagene Geräte:</translation>
    </message>
    <message>
        <source>%1 of %2 units provisioned; %3 failed.</source>
        <translation>%1 von %2 Geräten provisioniert; %3 fehlgeschlagen.</translation>
    </message>
    <message>
        <source>%1 units provisioned, %2 skipped.</source>
        <translation>%1 Geräte provisioniert, %2 übersprungen.</translation>
    </message>
    <message>
        <source>All %1 units provisioned and verified.</source>
        <translation>Alle %1 Geräte provisioniert und geprüft.</translation>
    </message>
    <message>
        <source>Serial number</source>
        <translation>Seriennummer</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>Error</source>
        <translation>Fehler</translation>
    </message>
    <message>
        <source>Export &amp;CSV…</source>
        <translation>&amp;CSV exportieren…</translation>
    </message>
    <message>
        <source>Export &amp;JSON…</source>
        <translation>&amp;JSON exportieren…</translation>
    </message>
    <message>
        <source>&amp;Retry failed</source>
        <translation>Fehlgeschlagene &amp;wiederholen</translation>
    </message>
</context>
<context>
    <name>BootstrapDialog</name>
    <message>
        <source>Trust a new EST server</source>
        <translation>Einem neuen EST-Server vertrauen</translation>
    </message>
    <message>
        <source>Certline has not seen this server&apos;s CA before. Compare the fingerprint of the CA marked “to pin” with the value your PKI administrator gave you (not from this screen or an e-mail from the server side), by pasting it or by eye. Compare the others too if you were given them. Only pin if what you compare matches.</source>
        <translation>Certline kennt die CA dieses Servers noch nicht. Vergleichen Sie den Fingerabdruck der mit „festlegen“ markierten CA mit dem Wert, den Ihre PKI-Administration Ihnen gegeben hat (nicht von diesem Bildschirm oder aus einer E-Mail der Serverseite), durch Einfügen oder mit dem Auge. Vergleichen Sie die anderen ebenfalls, wenn Sie sie erhalten haben. Nur festlegen, wenn alles Verglichene übereinstimmt.</translation>
    </message>
    <message>
        <source>Contacting the server…</source>
        <translation>Verbindung zum Server…</translation>
    </message>
    <message>
        <source>&amp;Pin as trust anchor</source>
        <translation>Als Vertrauensanker &amp;festlegen</translation>
    </message>
    <message>
        <source>TLS server certificate</source>
        <translation>TLS-Serverzertifikat</translation>
    </message>
    <message>
        <source>CA certificate %1</source>
        <translation>CA-Zertifikat %1</translation>
    </message>
    <message>
        <source>CA certificate %1 — to pin as trust anchor</source>
        <translation>CA-Zertifikat %1 – als Vertrauensanker festlegen</translation>
    </message>
    <message>
        <source>Fetched from %1.</source>
        <translation>Abgerufen von %1.</translation>
    </message>
    <message>
        <source>Warning: the server&apos;s TLS certificate is not issued by these CAs, so pinning them will not make the connection trusted.</source>
        <translation>Warnung: Das TLS-Zertifikat des Servers wurde nicht von diesen CAs ausgestellt; sie festzulegen macht die Verbindung nicht vertrauenswürdig.</translation>
    </message>
    <message>
        <source>Could not fetch the CA certificates: %1</source>
        <translation>Die CA-Zertifikate konnten nicht abgerufen werden: %1</translation>
    </message>
</context>
<context>
    <name>CertificatePanel</name>
    <message>
        <source>Subject:</source>
        <translation>Subject:</translation>
    </message>
    <message>
        <source>Alternative names:</source>
        <translation>Alternative Namen:</translation>
    </message>
    <message>
        <source>Issuer:</source>
        <translation>Aussteller:</translation>
    </message>
    <message>
        <source>Serial:</source>
        <translation>Seriennummer:</translation>
    </message>
    <message>
        <source>Valid:</source>
        <translation>Gültig:</translation>
    </message>
    <message>
        <source>Days left:</source>
        <translation>Verbleibende Tage:</translation>
    </message>
    <message>
        <source>SHA-256:</source>
        <translation>SHA-256:</translation>
    </message>
    <message>
        <source>%1 to %2 UTC</source>
        <translation>%1 bis %2 UTC</translation>
    </message>
    <message>
        <source>%1 days (%2)</source>
        <translation>%1 Tage (%2)</translation>
    </message>
</context>
<context>
    <name>ConnectionTest</name>
    <message>
        <source>key algorithm %1</source>
        <translation>Schlüsselalgorithmus %1</translation>
    </message>
    <message>
        <source>challenge password required</source>
        <translation>Challenge-Passwort erforderlich</translation>
    </message>
    <message>
        <source>subject %1</source>
        <translation>Subject %1</translation>
    </message>
    <message>
        <source>extensions %1</source>
        <translation>Erweiterungen %1</translation>
    </message>
    <message>
        <source>no requirements</source>
        <translation>keine Anforderungen</translation>
    </message>
    <message>
        <source>EST client</source>
        <translation>EST-Client</translation>
    </message>
    <message>
        <source>%1 CA certificate(s), verified against the trust anchor: %2</source>
        <translation>%1 CA-Zertifikat(e), gegen den Vertrauensanker geprüft: %2</translation>
    </message>
    <message>
        <source>Passcode</source>
        <translation>Passcode</translation>
    </message>
    <message>
        <source>servers answer these requests without authentication; the first enrollment proves it</source>
        <translation>Server beantworten diese Anfragen ohne Authentifizierung; die erste Registrierung beweist ihn</translation>
    </message>
</context>
<context>
    <name>Crash</name>
    <message>
        <source>A report was saved to:
%1
Please send it to support.</source>
        <translation>Ein Bericht wurde gespeichert unter:
%1
Bitte senden Sie ihn an den Support.</translation>
    </message>
    <message>
        <source>No report could be saved; see the log file.</source>
        <translation>Es konnte kein Bericht gespeichert werden; siehe Protokolldatei.</translation>
    </message>
    <message>
        <source>Certline hit an unexpected error:

%1

%2</source>
        <translation>In Certline ist ein unerwarteter Fehler aufgetreten:

%1

%2</translation>
    </message>
    <message>
        <source>Certline: unexpected error</source>
        <translation>Certline: unerwarteter Fehler</translation>
    </message>
</context>
<context>
    <name>DeviceDetailsPanel</name>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>Step</source>
        <translation>Schritt</translation>
    </message>
    <message>
        <source>Took</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>Subject</translation>
    </message>
    <message>
        <source>Issuer</source>
        <translation>Aussteller</translation>
    </message>
    <message>
        <source>Serial</source>
        <translation>Seriennummer</translation>
    </message>
    <message>
        <source>Valid from</source>
        <translation>Gültig ab</translation>
    </message>
    <message>
        <source>Valid until</source>
        <translation>Gültig bis</translation>
    </message>
    <message>
        <source>SHA-256 fingerprint</source>
        <translation>SHA-256-Fingerabdruck</translation>
    </message>
    <message>
        <source>Steps</source>
        <translation>Schritte</translation>
    </message>
    <message>
        <source>Certificate</source>
        <translation>Zertifikat</translation>
    </message>
    <message>
        <source>no certificate yet</source>
        <translation>noch kein Zertifikat</translation>
    </message>
    <message>
        <source>Cannot read this device: %1</source>
        <translation>Dieses Gerät kann nicht gelesen werden: %1</translation>
    </message>
</context>
<context>
    <name>DeviceState</name>
    <message>
        <source>Detected</source>
        <extracomment>state -&gt; (untranslated label, tone); labels are marked for lupdate, translated on use.</extracomment>
        <translation>Erkannt</translation>
    </message>
    <message>
        <source>Identified</source>
        <translation>Identifiziert</translation>
    </message>
    <message>
        <source>Scan its label</source>
        <translation>Etikett scannen</translation>
    </message>
    <message>
        <source>Key ready</source>
        <translation>Schlüssel bereit</translation>
    </message>
    <message>
        <source>CSR ready</source>
        <translation>CSR bereit</translation>
    </message>
    <message>
        <source>Enrolling</source>
        <translation>Registrierung</translation>
    </message>
    <message>
        <source>Pending approval</source>
        <translation>Wartet auf Freigabe</translation>
    </message>
    <message>
        <source>Issued</source>
        <translation>Ausgestellt</translation>
    </message>
    <message>
        <source>Writing</source>
        <translation>Schreibt</translation>
    </message>
    <message>
        <source>Written</source>
        <translation>Geschrieben</translation>
    </message>
    <message>
        <source>Verified</source>
        <translation>Geprüft</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>Fertig</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>Fehlgeschlagen</translation>
    </message>
    <message>
        <source>Skipped</source>
        <translation>Übersprungen</translation>
    </message>
</context>
<context>
    <name>DeviceTableModel</name>
    <message>
        <source>Port</source>
        <extracomment>rows the station window applies per pass of the event loop: about 1 ms of Python, well inside the interpreter&apos;s 5 ms switch interval (64 changed rows took 5-7 ms in one pass) how strongly the progress bar&apos;s fill shows behind the cell text (0..255) finished states whose progress cell shows the outcome in words instead of &quot;100 %&quot;</extracomment>
        <translation>Port</translation>
    </message>
    <message>
        <source>Serial number</source>
        <translation>Seriennummer</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>Modell</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>Progress</source>
        <translation>Fortschritt</translation>
    </message>
    <message>
        <source>Elapsed</source>
        <translation>Dauer</translation>
    </message>
    <message>
        <source>Certificate serial</source>
        <translation>Zertifikats-Seriennr.</translation>
    </message>
    <message>
        <source>Expires</source>
        <translation>Läuft ab</translation>
    </message>
    <message>
        <source>Step / error</source>
        <translation>Schritt / Fehler</translation>
    </message>
    <message>
        <source>%1 (step: %2)</source>
        <translation>%1 (Schritt: %2)</translation>
    </message>
    <message>
        <source>SHA-256 fingerprint: %1</source>
        <translation>SHA-256-Fingerabdruck: %1</translation>
    </message>
</context>
<context>
    <name>DeviceView</name>
    <message>
        <source>Devices</source>
        <translation>Geräte</translation>
    </message>
    <message>
        <source>Sign in (Ctrl+I), connect the units, then press Start (F5).</source>
        <translation>Anmelden (Strg+I), Geräte anschließen, dann Start (F5) drücken.</translation>
    </message>
    <message>
        <source>Connect the units, then press Start (F5) — or Hands-free (F9).</source>
        <translation>Geräte anschließen, dann Start (F5) drücken – oder Freihand (F9).</translation>
    </message>
</context>
<context>
    <name>ExpiryDialog</name>
    <message>
        <source>Certificate expiry</source>
        <translation>Zertifikatsablauf</translation>
    </message>
    <message>
        <source>Only units expiring &amp;within</source>
        <translation>Nur Geräte mit Ablauf &amp;innerhalb von</translation>
    </message>
    <message>
        <source> days</source>
        <translation> Tage</translation>
    </message>
    <message>
        <source>&amp;Export CSV…</source>
        <translation>CSV &amp;exportieren…</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Wird geladen…</translation>
    </message>
    <message>
        <source>Unit</source>
        <translation>Gerät</translation>
    </message>
    <message>
        <source>Certificate serial</source>
        <translation>Zertifikats-Seriennr.</translation>
    </message>
    <message>
        <source>Expires (UTC)</source>
        <translation>Läuft ab (UTC)</translation>
    </message>
    <message>
        <source>Days left</source>
        <translation>Verbleibende Tage</translation>
    </message>
    <message>
        <source>Urgency</source>
        <translation>Dringlichkeit</translation>
    </message>
    <message>
        <source>Subject</source>
        <translation>Subject</translation>
    </message>
    <message>
        <source>Issuer</source>
        <translation>Aussteller</translation>
    </message>
    <message>
        <source>Operation</source>
        <translation>Vorgang</translation>
    </message>
    <message>
        <source>SHA-256</source>
        <translation>SHA-256</translation>
    </message>
    <message>
        <source>Cannot read the journal: %1</source>
        <translation>Das Journal kann nicht gelesen werden: %1</translation>
    </message>
    <message numerus="yes">
        <source>%n unit(s)</source>
        <translation>
            <numerusform>%n Gerät</numerusform>
            <numerusform>%n Geräte</numerusform>
        </translation>
    </message>
    <message>
        <source>Export expiry list</source>
        <translation>Ablaufliste exportieren</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV-Dateien (*.csv)</translation>
    </message>
    <message numerus="yes">
        <source>Exported %n unit(s).</source>
        <translation>
            <numerusform>%n Gerät exportiert.</numerusform>
            <numerusform>%n Geräte exportiert.</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot write the file: %1</source>
        <translation>Die Datei kann nicht geschrieben werden: %1</translation>
    </message>
</context>
<context>
    <name>Field</name>
    <message>
        <source>Browse…</source>
        <translation>Durchsuchen…</translation>
    </message>
    <message>
        <source>Choose a file</source>
        <translation>Datei wählen</translation>
    </message>
</context>
<context>
    <name>FingerprintRow</name>
    <message>
        <source>paste the fingerprint you were given</source>
        <translation>erhaltenen Fingerabdruck einfügen</translation>
    </message>
    <message>
        <source>I compared this fingerprint with the out-of-band value</source>
        <translation>Ich habe diesen Fingerabdruck mit dem separat erhaltenen Wert verglichen</translation>
    </message>
    <message>
        <source>Subject:</source>
        <translation>Subject:</translation>
    </message>
    <message>
        <source>SHA-256:</source>
        <translation>SHA-256:</translation>
    </message>
    <message>
        <source>Confirm:</source>
        <translation>Bestätigen:</translation>
    </message>
    <message>
        <source>✗ Does NOT match — do not pin; ask your PKI administrator</source>
        <translation>✗ Stimmt NICHT überein – nicht festlegen; PKI-Administration fragen</translation>
    </message>
    <message>
        <source>✓ Confirmed</source>
        <translation>✓ Bestätigt</translation>
    </message>
    <message>
        <source>Not confirmed yet</source>
        <translation>Noch nicht bestätigt</translation>
    </message>
</context>
<context>
    <name>HistoryDialog</name>
    <message>
        <source>Batch history</source>
        <extracomment>devices read per journal call while the operator scrolls through a batch</extracomment>
        <translation>Chargenverlauf</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Charge</translation>
    </message>
    <message>
        <source>Started</source>
        <translation>Begonnen</translation>
    </message>
    <message>
        <source>Ended</source>
        <translation>Beendet</translation>
    </message>
    <message>
        <source>Work order</source>
        <translation>Auftrag</translation>
    </message>
    <message>
        <source>Operator</source>
        <translation>Bediener</translation>
    </message>
    <message>
        <source>Profile</source>
        <translation>Profil</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Wird geladen…</translation>
    </message>
    <message>
        <source>&amp;Export report…</source>
        <translation>Bericht &amp;exportieren…</translation>
    </message>
    <message>
        <source>&amp;Reprint label</source>
        <translation>Etikett &amp;nachdrucken</translation>
    </message>
    <message>
        <source>Print the selected done unit&apos;s label again (recorded in the audit)</source>
        <translation>Das Etikett des gewählten fertigen Geräts erneut drucken (wird im Audit-Protokoll vermerkt)</translation>
    </message>
    <message>
        <source>open</source>
        <translation>offen</translation>
    </message>
    <message numerus="yes">
        <source>%n batch(es)</source>
        <translation>
            <numerusform>%n Charge</numerusform>
            <numerusform>%n Chargen</numerusform>
        </translation>
    </message>
    <message>
        <source>Cannot read the journal: %1</source>
        <translation>Das Journal kann nicht gelesen werden: %1</translation>
    </message>
    <message>
        <source>Printing the label…</source>
        <translation>Etikett wird gedruckt…</translation>
    </message>
    <message>
        <source>Label reprinted: %1</source>
        <translation>Etikett nachgedruckt: %1</translation>
    </message>
    <message>
        <source>Label not printed: %1</source>
        <translation>Etikett nicht gedruckt: %1</translation>
    </message>
</context>
<context>
    <name>Launcher</name>
    <message>
        <source>Certline</source>
        <translation>Certline</translation>
    </message>
    <message>
        <source>The profile could not be opened: %1</source>
        <translation>Das Profil konnte nicht geöffnet werden: %1</translation>
    </message>
    <message>
        <source>Certline: create the first profile</source>
        <translation>Certline: erstes Profil anlegen</translation>
    </message>
</context>
<context>
    <name>LineView</name>
    <message>
        <source>Line view</source>
        <translation>Linienansicht</translation>
    </message>
    <message>
        <source>all work orders</source>
        <translation>alle Aufträge</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>Aktualisieren</translation>
    </message>
    <message>
        <source>Station</source>
        <translation>Station</translation>
    </message>
    <message>
        <source>State</source>
        <translation>Zustand</translation>
    </message>
    <message>
        <source>Units</source>
        <translation>Geräte</translation>
    </message>
    <message>
        <source>Serial number</source>
        <translation>Seriennummer</translation>
    </message>
    <message>
        <source>Held by</source>
        <translation>Gehalten von</translation>
    </message>
    <message>
        <source>Lease until</source>
        <translation>Reserviert bis</translation>
    </message>
    <message>
        <source>Work order:</source>
        <translation>Auftrag:</translation>
    </message>
    <message>
        <source>Units per station</source>
        <translation>Geräte je Station</translation>
    </message>
    <message>
        <source>Units being worked on</source>
        <translation>Geräte in Arbeit</translation>
    </message>
    <message>
        <source>Reading the shared journal…</source>
        <translation>Lese das gemeinsame Journal…</translation>
    </message>
    <message>
        <source>Cannot read the shared journal: {0}</source>
        <translation>Das gemeinsame Journal ist nicht lesbar: {0}</translation>
    </message>
</context>
<context>
    <name>LockController</name>
    <message>
        <source>Set engineer PIN</source>
        <translation>Ingenieur-PIN festlegen</translation>
    </message>
    <message>
        <source>Choose the engineer PIN. It is needed to edit profiles and settings while the station is locked.</source>
        <translation>Wählen Sie die Ingenieur-PIN. Sie wird benötigt, um Profile und Einstellungen zu ändern, solange die Station gesperrt ist.</translation>
    </message>
    <message>
        <source>Unlock station</source>
        <translation>Station entsperren</translation>
    </message>
    <message>
        <source>Enter the engineer PIN to unlock profiles and settings.</source>
        <translation>Ingenieur-PIN eingeben, um Profile und Einstellungen freizugeben.</translation>
    </message>
    <message>
        <source>Wrong PIN; the station stays locked.</source>
        <translation>Falsche PIN; die Station bleibt gesperrt.</translation>
    </message>
    <message>
        <source>engineer</source>
        <translation>Ingenieur</translation>
    </message>
    <message>
        <source>technician</source>
        <translation>Techniker</translation>
    </message>
    <message>
        <source>Signed in: %1 (%2)</source>
        <translation>Angemeldet: %1 (%2)</translation>
    </message>
    <message>
        <source>Wrong PIN; nobody was signed in.</source>
        <translation>Falsche PIN; niemand wurde angemeldet.</translation>
    </message>
    <message>
        <source>Signed out; the station is locked</source>
        <translation>Abgemeldet; die Station ist gesperrt</translation>
    </message>
</context>
<context>
    <name>LogModel</name>
    <message>
        <source>Time</source>
        <translation>Zeit</translation>
    </message>
    <message>
        <source>Level</source>
        <translation>Stufe</translation>
    </message>
    <message>
        <source>Port</source>
        <translation>Port</translation>
    </message>
    <message>
        <source>Message</source>
        <translation>Meldung</translation>
    </message>
</context>
<context>
    <name>LogPanel</name>
    <message>
        <source>Everything</source>
        <translation>Alles</translation>
    </message>
    <message>
        <source>Information and above</source>
        <translation>Information und höher</translation>
    </message>
    <message>
        <source>Warnings and errors</source>
        <translation>Warnungen und Fehler</translation>
    </message>
    <message>
        <source>Errors only</source>
        <translation>Nur Fehler</translation>
    </message>
    <message>
        <source>All devices</source>
        <translation>Alle Geräte</translation>
    </message>
    <message>
        <source>&amp;Level:</source>
        <translation>&amp;Stufe:</translation>
    </message>
    <message>
        <source>&amp;Device:</source>
        <translation>&amp;Gerät:</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>&amp;Start</source>
        <translation>&amp;Start</translation>
    </message>
    <message>
        <source>Start a batch on the connected units</source>
        <translation>Eine Charge auf den angeschlossenen Geräten starten</translation>
    </message>
    <message>
        <source>&amp;Pause</source>
        <translation>&amp;Pause</translation>
    </message>
    <message>
        <source>Pause after the current step</source>
        <translation>Nach dem aktuellen Schritt anhalten</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>S&amp;topp</translation>
    </message>
    <message>
        <source>Stop the batch after the current step</source>
        <translation>Die Charge nach dem aktuellen Schritt stoppen</translation>
    </message>
    <message>
        <source>&amp;Retry failed</source>
        <translation>Fehlgeschlagene &amp;wiederholen</translation>
    </message>
    <message>
        <source>Run the failed units again</source>
        <translation>Die fehlgeschlagenen Geräte erneut durchlaufen lassen</translation>
    </message>
    <message>
        <source>Retry &amp;pending</source>
        <translation>Wartende erneut an&amp;fragen</translation>
    </message>
    <message>
        <source>Ask the EST server again now for the units pending approval</source>
        <translation>Den EST-Server jetzt erneut nach den Geräten fragen, die auf Freigabe warten</translation>
    </message>
    <message>
        <source>S&amp;kip selected</source>
        <translation>Auswahl über&amp;springen</translation>
    </message>
    <message>
        <source>Leave the selected units out of this batch</source>
        <translation>Die ausgewählten Geräte aus dieser Charge herausnehmen</translation>
    </message>
    <message>
        <source>Re-&amp;provision selected unit…</source>
        <translation>&amp;Neu provisionieren (ausgewählte Einheit)…</translation>
    </message>
    <message>
        <source>Replace the certificate a unit already holds (asks first)</source>
        <translation>Das Zertifikat ersetzen, das eine Einheit bereits hat (mit Rückfrage)</translation>
    </message>
    <message>
        <source>&amp;Hands-free</source>
        <translation>&amp;Freihand</translation>
    </message>
    <message>
        <source>Provision every unit as soon as it is plugged in</source>
        <translation>Jedes Gerät provisionieren, sobald es angesteckt wird</translation>
    </message>
    <message>
        <source>&amp;Export report…</source>
        <translation>Bericht &amp;exportieren…</translation>
    </message>
    <message>
        <source>Save the batch report as CSV or JSON</source>
        <translation>Den Chargenbericht als CSV oder JSON speichern</translation>
    </message>
    <message>
        <source>Save support &amp;bundle…</source>
        <translation>Support-&amp;Paket speichern…</translation>
    </message>
    <message>
        <source>Save logs, this batch and the profile (no secrets) as a zip for support</source>
        <translation>Protokolle, diese Charge und das Profil (ohne Geheimnisse) als ZIP für den Support speichern</translation>
    </message>
    <message>
        <source>&amp;History</source>
        <translation>&amp;Verlauf</translation>
    </message>
    <message>
        <source>Show past batches</source>
        <translation>Frühere Chargen anzeigen</translation>
    </message>
    <message>
        <source>&amp;Profile editor…</source>
        <translation>&amp;Profileditor…</translation>
    </message>
    <message>
        <source>Edit the EST profile of this station</source>
        <translation>Das EST-Profil dieser Station bearbeiten</translation>
    </message>
    <message>
        <source>New &amp;passcode…</source>
        <translation>Neuer &amp;Passcode…</translation>
    </message>
    <message>
        <source>Store the next passcode from the CA; a batch waiting for one goes on</source>
        <translation>Den nächsten Passcode der CA speichern; eine wartende Charge läuft weiter</translation>
    </message>
    <message>
        <source>&amp;Lock station</source>
        <translation>Station &amp;sperren</translation>
    </message>
    <message>
        <source>Lock profiles and settings with the engineer PIN</source>
        <translation>Profile und Einstellungen mit der Ingenieur-PIN sperren</translation>
    </message>
    <message>
        <source>Sign &amp;in…</source>
        <translation>&amp;Anmelden…</translation>
    </message>
    <message>
        <source>Sign in as technician or engineer with your PIN, or sign out</source>
        <translation>Mit Ihrer PIN als Techniker oder Ingenieur anmelden, oder abmelden</translation>
    </message>
    <message>
        <source>Shared &amp;journal…</source>
        <translation>Gemeinsames &amp;Journal…</translation>
    </message>
    <message>
        <source>Use the line&apos;s shared journal database (PostgreSQL) and test the connection</source>
        <translation>Die gemeinsame Journal-Datenbank der Linie (PostgreSQL) verwenden und die Verbindung testen</translation>
    </message>
    <message>
        <source>&amp;Line view…</source>
        <translation>&amp;Linienansicht…</translation>
    </message>
    <message>
        <source>Shared journal: units per station and which station holds which unit</source>
        <translation>Gemeinsames Journal: Geräte je Station und welche Station welches Gerät hält</translation>
    </message>
    <message>
        <source>&amp;Large text</source>
        <translation>&amp;Große Schrift</translation>
    </message>
    <message>
        <source>Bigger text for the factory floor</source>
        <translation>Größere Schrift für die Fertigung</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>&amp;Beenden</translation>
    </message>
    <message>
        <source>Close Certline</source>
        <translation>Certline schließen</translation>
    </message>
    <message>
        <source>&amp;About Certline</source>
        <translation>&amp;Über Certline</translation>
    </message>
    <message>
        <source>Version and licence</source>
        <translation>Version und Lizenz</translation>
    </message>
    <message>
        <source>&amp;Batch</source>
        <translation>&amp;Charge</translation>
    </message>
    <message>
        <source>&amp;Station</source>
        <translation>&amp;Station</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>&amp;Ansicht</translation>
    </message>
    <message>
        <source>&amp;Language</source>
        <translation>&amp;Sprache</translation>
    </message>
    <message>
        <source>Follow the system</source>
        <translation>Wie das System</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>&amp;Hilfe</translation>
    </message>
    <message>
        <source>Batch</source>
        <translation>Charge</translation>
    </message>
    <message>
        <source>Certline station — %1</source>
        <translation>Certline-Station – %1</translation>
    </message>
    <message numerus="yes">
        <source>The table lists every unit still in progress or failed and the newest %1 finished ones; %n older finished unit(s) of this batch are in Batch › History.</source>
        <translation>
            <numerusform>Die Tabelle zeigt alle Geräte, die noch laufen oder fehlgeschlagen sind, und die neuesten %1 fertigen; %n älteres fertiges Gerät dieser Charge steht unter Charge › Verlauf.</numerusform>
            <numerusform>Die Tabelle zeigt alle Geräte, die noch laufen oder fehlgeschlagen sind, und die neuesten %1 fertigen; %n ältere fertige Geräte dieser Charge stehen unter Charge › Verlauf.</numerusform>
        </translation>
    </message>
    <message>
        <source>Store the next passcode from the CA. Enrollments use it from their next request.</source>
        <translation>Den nächsten Passcode der CA speichern. Registrierungen verwenden ihn ab ihrer nächsten Anfrage.</translation>
    </message>
    <message>
        <source>Batch %1 running</source>
        <translation>Charge %1 läuft</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>Fortsetzen</translation>
    </message>
    <message>
        <source>No batch yet</source>
        <translation>Noch keine Charge</translation>
    </message>
    <message>
        <source>Batch %1: stopping…</source>
        <translation>Charge %1: wird gestoppt…</translation>
    </message>
    <message>
        <source>Batch %1: finished</source>
        <translation>Charge %1: abgeschlossen</translation>
    </message>
    <message>
        <source>Batch %1: paused</source>
        <translation>Charge %1: angehalten</translation>
    </message>
    <message>
        <source>Batch %1: running</source>
        <translation>Charge %1: läuft</translation>
    </message>
    <message>
        <source>hands-free</source>
        <translation>Freihand</translation>
    </message>
    <message>
        <source>locked</source>
        <translation>gesperrt</translation>
    </message>
    <message>
        <source>sign in to start (Ctrl+I)</source>
        <translation>zum Starten anmelden (Strg+I)</translation>
    </message>
    <message>
        <source>engineer</source>
        <translation>Ingenieur</translation>
    </message>
    <message>
        <source>technician</source>
        <translation>Techniker</translation>
    </message>
    <message>
        <source>%1 (%2)</source>
        <translation>%1 (%2)</translation>
    </message>
    <message>
        <source>Sign &amp;out %1</source>
        <translation>%1 ab&amp;melden</translation>
    </message>
    <message>
        <source>Un&amp;lock station</source>
        <translation>Station ent&amp;sperren</translation>
    </message>
    <message>
        <source>Station locked</source>
        <translation>Station gesperrt</translation>
    </message>
    <message>
        <source>Station unlocked</source>
        <translation>Station entsperrt</translation>
    </message>
    <message>
        <source>Certline</source>
        <translation>Certline</translation>
    </message>
    <message>
        <source>Select the units to skip first (finished units cannot be skipped)</source>
        <translation>Zuerst die zu überspringenden Geräte auswählen (fertige Geräte können nicht übersprungen werden)</translation>
    </message>
    <message>
        <source>Skip units</source>
        <translation>Geräte überspringen</translation>
    </message>
    <message numerus="yes">
        <source>Leave %n unit(s) out of this batch?</source>
        <translation>
            <numerusform>%n Gerät aus dieser Charge herausnehmen?</numerusform>
            <numerusform>%n Geräte aus dieser Charge herausnehmen?</numerusform>
        </translation>
    </message>
    <message>
        <source>Select one unit that failed because it is already provisioned</source>
        <translation>Wählen Sie eine Einheit, die fehlschlug, weil sie bereits provisioniert ist</translation>
    </message>
    <message>
        <source>Replace the certificate that unit %1 on %2 already holds?

%3

The old certificate is recorded in the journal first. The unit cannot connect with its old credential any more once its new key is generated.</source>
        <translation>Das Zertifikat ersetzen, das Einheit %1 an %2 bereits hat?

%3

Das alte Zertifikat wird zuerst im Journal festgehalten. Sobald der neue Schlüssel erzeugt ist, kann die Einheit sich mit ihren alten Zugangsdaten nicht mehr verbinden.</translation>
    </message>
    <message>
        <source>Re-provision unit %1</source>
        <translation>Einheit %1 neu provisionieren</translation>
    </message>
    <message>
        <source>Save support bundle</source>
        <translation>Support-Paket speichern</translation>
    </message>
    <message>
        <source>Zip archive (*.zip)</source>
        <translation>ZIP-Archiv (*.zip)</translation>
    </message>
    <message>
        <source>Support bundle saved: %1</source>
        <translation>Support-Paket gespeichert: %1</translation>
    </message>
    <message>
        <source>The support bundle was not saved: %1</source>
        <translation>Das Support-Paket wurde nicht gespeichert: %1</translation>
    </message>
    <message>
        <source>Batch %1 finished</source>
        <translation>Charge %1 abgeschlossen</translation>
    </message>
    <message>
        <source>%1 done, %2 failed</source>
        <translation>%1 fertig, %2 fehlgeschlagen</translation>
    </message>
    <message>
        <source>The station is locked; unlock it with the engineer PIN (Ctrl+L)</source>
        <translation>Die Station ist gesperrt; mit der Ingenieur-PIN entsperren (Strg+L)</translation>
    </message>
    <message>
        <source>Journal setting saved; it is used from the next start of the station window</source>
        <translation>Journal-Einstellung gespeichert; sie gilt ab dem nächsten Start des Stationsfensters</translation>
    </message>
    <message>
        <source>Profile saved; it is used from the next start of the station window</source>
        <translation>Profil gespeichert; es gilt ab dem nächsten Öffnen des Stationsfensters</translation>
    </message>
    <message>
        <source>The language changes the next time Certline starts</source>
        <translation>Die Sprache ändert sich beim nächsten Start von Certline</translation>
    </message>
    <message>
        <source>Quit Certline</source>
        <translation>Certline beenden</translation>
    </message>
    <message>
        <source>A batch is running. Stop it after the current step and quit?</source>
        <translation>Eine Charge läuft. Nach dem aktuellen Schritt stoppen und beenden?</translation>
    </message>
    <message>
        <source>About Certline</source>
        <translation>Über Certline</translation>
    </message>
    <message>
        <source>Certline %1 — device certificate provisioning over EST (RFC 7030).</source>
        <translation>Certline %1 – Provisionierung von Gerätezertifikaten über EST (RFC 7030).</translation>
    </message>
    <message>
        <source>&amp;Re-enroll a unit…</source>
        <translation>Gerät &amp;neu registrieren…</translation>
    </message>
    <message>
        <source>Certificate e&amp;xpiry…</source>
        <translation>Zertifikats&amp;ablauf…</translation>
    </message>
    <message>
        <source>Renew one unit&apos;s certificate before it expires</source>
        <translation>Das Zertifikat eines Geräts vor dem Ablauf erneuern</translation>
    </message>
    <message>
        <source>Every unit of this station by certificate expiry</source>
        <translation>Alle Geräte dieser Station nach Zertifikatsablauf</translation>
    </message>
    <message>
        <source>Resume &amp;unfinished batch</source>
        <translation>&amp;Unvollständige Charge fortsetzen</translation>
    </message>
    <message>
        <source>Batch %1 has %2 unfinished unit(s): Ctrl+R resumes it</source>
        <translation>Charge %1 hat %2 unvollständige Einheit(en): Strg+R setzt sie fort</translation>
    </message>
    <message>
        <source>Use &amp;simulated units…</source>
        <translation>&amp;Simulierte Geräte verwenden…</translation>
    </message>
    <message>
        <source>Run batches on simulated units instead of USB ports (training)</source>
        <translation>Chargen auf simulierten Geräten statt an USB-Ports ausführen (Schulung)</translation>
    </message>
    <message>
        <source>Use simulated units</source>
        <translation>Simulierte Geräte verwenden</translation>
    </message>
    <message>
        <source>How many simulated units should be plugged in? Batches then run on them instead of the USB ports, against this profile&apos;s EST server.</source>
        <translation>Wie viele simulierte Geräte sollen angeschlossen werden? Chargen laufen dann auf ihnen statt an den USB-Ports, gegen den EST-Server dieses Profils.</translation>
    </message>
    <message>
        <source>Starting simulated units…</source>
        <translation>Simulierte Geräte werden gestartet…</translation>
    </message>
    <message>
        <source>Simulated units could not be started: %1</source>
        <translation>Simulierte Geräte konnten nicht gestartet werden: %1</translation>
    </message>
    <message>
        <source>%1 simulated units</source>
        <translation>%1 simulierte Geräte</translation>
    </message>
    <message>
        <source>%1 simulated units plugged in: Start (F5) runs a batch on them</source>
        <translation>%1 simulierte Geräte angeschlossen: Start (F5) führt eine Charge auf ihnen aus</translation>
    </message>
    <message>
        <source>S&amp;tatistics…</source>
        <translation>S&amp;tatistik…</translation>
    </message>
    <message>
        <source>Units per hour, yield and failures of a work order</source>
        <translation>Einheiten pro Stunde, Ausbeute und Fehler eines Auftrags</translation>
    </message>
</context>
<context>
    <name>NewPasscodeDialog</name>
    <message>
        <source>New passcode needed</source>
        <translation>Neuer Passcode nötig</translation>
    </message>
    <message>
        <source>Units wait at their last journaled step; nothing has failed. Enter the next passcode from the CA&apos;s portal and the batch goes on with it.</source>
        <translation>Die Geräte warten an ihrem letzten protokollierten Schritt; nichts ist fehlgeschlagen. Geben Sie den nächsten Passcode aus dem Portal der CA ein, dann läuft die Charge damit weiter.</translation>
    </message>
    <message>
        <source>New passcode:</source>
        <translation>Neuer Passcode:</translation>
    </message>
    <message>
        <source>e.g. 500 (empty: no limit)</source>
        <translation>z. B. 500 (leer: keine Grenze)</translation>
    </message>
    <message>
        <source>Uses allowed:</source>
        <translation>Erlaubte Verwendungen:</translation>
    </message>
    <message>
        <source>YYYY-MM-DD (empty: never)</source>
        <translation>JJJJ-MM-TT (leer: nie)</translation>
    </message>
    <message>
        <source>Expires on:</source>
        <translation>Läuft ab am:</translation>
    </message>
    <message>
        <source>its name on the CA&apos;s portal (optional)</source>
        <translation>sein Name im Portal der CA (optional)</translation>
    </message>
    <message>
        <source>Passcode name:</source>
        <translation>Passcode-Name:</translation>
    </message>
    <message>
        <source>Use this passcode</source>
        <translation>Diesen Passcode verwenden</translation>
    </message>
</context>
<context>
    <name>PasscodeQuota</name>
    <message>
        <source>Passcode: %1</source>
        <translation>Passcode: %1</translation>
    </message>
    <message>
        <source>Passcode running out</source>
        <translation>Passcode geht zur Neige</translation>
    </message>
    <message>
        <source>Start anyway? Before the passcode runs out the batch waits and asks for a new one; no unit fails because of it.</source>
        <translation>Trotzdem starten? Bevor der Passcode aufgebraucht ist, wartet die Charge und fragt nach einem neuen; deshalb schlägt kein Gerät fehl.</translation>
    </message>
    <message>
        <source>Start anyway</source>
        <translation>Trotzdem starten</translation>
    </message>
    <message>
        <source>%1

An engineer unlocks the station and enters it with Station &gt; New passcode….</source>
        <translation>%1

Ein Ingenieur entsperrt die Station und gibt ihn unter Station &gt; Neuer Passcode… ein.</translation>
    </message>
    <message>
        <source>New passcode in use, counted as %1</source>
        <translation>Neuer Passcode in Verwendung, gezählt als %1</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <source>&amp;PIN:</source>
        <translation>&amp;PIN:</translation>
    </message>
    <message>
        <source>&amp;Repeat PIN:</source>
        <translation>PIN &amp;wiederholen:</translation>
    </message>
    <message>
        <source>At least %1 characters.</source>
        <translation>Mindestens %1 Zeichen.</translation>
    </message>
    <message>
        <source>The two PINs differ.</source>
        <translation>Die beiden PINs unterscheiden sich.</translation>
    </message>
</context>
<context>
    <name>ProfileEditor</name>
    <message>
        <source>Profile editor</source>
        <translation>Profileditor</translation>
    </message>
    <message>
        <source>&amp;Test connection</source>
        <translation>Verbindung &amp;testen</translation>
    </message>
    <message>
        <source>&amp;Import…</source>
        <translation>&amp;Importieren…</translation>
    </message>
    <message>
        <source>E&amp;xport…</source>
        <translation>E&amp;xportieren…</translation>
    </message>
    <message>
        <source>Fill in the profile name and the enrollment URL to save.</source>
        <translation>Zum Speichern Profilnamen und Enrollment-URL ausfüllen.</translation>
    </message>
    <message>
        <source>&amp;Passcode:</source>
        <translation>&amp;Passcode:</translation>
    </message>
    <message>
        <source>&amp;Password:</source>
        <translation>&amp;Passwort:</translation>
    </message>
    <message>
        <source>Key &amp;password:</source>
        <translation>Schlüssel&amp;passwort:</translation>
    </message>
    <message>
        <source>Keyring unavailable: %1</source>
        <translation>Schlüsselbund nicht verfügbar: %1</translation>
    </message>
    <message>
        <source>Will be stored in the keyring when you save.</source>
        <translation>Wird beim Speichern im Schlüsselbund abgelegt.</translation>
    </message>
    <message>
        <source>Stored in the keyring. Type a new value to replace it.</source>
        <translation>Im Schlüsselbund gespeichert. Zum Ersetzen einen neuen Wert eingeben.</translation>
    </message>
    <message>
        <source>Not stored yet.</source>
        <translation>Noch nicht gespeichert.</translation>
    </message>
    <message>
        <source>Not saved: %1</source>
        <translation>Nicht gespeichert: %1</translation>
    </message>
    <message>
        <source>Testing…</source>
        <translation>Test läuft…</translation>
    </message>
    <message>
        <source>not checked</source>
        <translation>nicht geprüft</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>fehlgeschlagen</translation>
    </message>
    <message>
        <source>The server is not trusted yet: use “Fetch from server and compare…”.</source>
        <translation>Dem Server wird noch nicht vertraut: „Vom Server abrufen und vergleichen…“ verwenden.</translation>
    </message>
    <message>
        <source>Import CA certificates</source>
        <translation>CA-Zertifikate importieren</translation>
    </message>
    <message>
        <source>PEM certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>PEM-Zertifikate (*.pem *.crt *.cer);;Alle Dateien (*)</translation>
    </message>
    <message>
        <source>Import profile</source>
        <translation>Profil importieren</translation>
    </message>
    <message>
        <source>Profiles (*.json)</source>
        <translation>Profile (*.json)</translation>
    </message>
    <message>
        <source>Export profile (without secrets)</source>
        <translation>Profil exportieren (ohne Geheimnisse)</translation>
    </message>
</context>
<context>
    <name>ProfileForm</name>
    <message>
        <source>&amp;Server</source>
        <translation>&amp;Server</translation>
    </message>
    <message>
        <source>&amp;Authentication</source>
        <translation>&amp;Authentifizierung</translation>
    </message>
    <message>
        <source>&amp;Certificate</source>
        <translation>&amp;Zertifikat</translation>
    </message>
    <message>
        <source>S&amp;tation</source>
        <translation>S&amp;tation</translation>
    </message>
    <message>
        <source>Profile &amp;name:</source>
        <translation>Profil&amp;name:</translation>
    </message>
    <message>
        <source>&amp;Enrollment URL:</source>
        <translation>&amp;Registrierungs-URL:</translation>
    </message>
    <message>
        <source>&amp;Re-enrollment URL:</source>
        <translation>&amp;Erneuerungs-URL:</translation>
    </message>
    <message>
        <source>optional, e.g. https://clientauth.HOST/…</source>
        <translation>optional, z. B. https://clientauth.HOST/…</translation>
    </message>
    <message>
        <source>&amp;Label (CA policy):</source>
        <translation>&amp;Label (CA-Richtlinie):</translation>
    </message>
    <message>
        <source>&amp;Device group:</source>
        <translation>&amp;Gerätegruppe:</translation>
    </message>
    <message>
        <source>optional</source>
        <translation>optional</translation>
    </message>
    <message>
        <source>&amp;Import CA file…</source>
        <translation>CA-Datei &amp;importieren…</translation>
    </message>
    <message>
        <source>&amp;Fetch from server and compare…</source>
        <translation>Vom Server &amp;abrufen und vergleichen…</translation>
    </message>
    <message>
        <source>Clear</source>
        <translation>Leeren</translation>
    </message>
    <message>
        <source>Pinned trust anchor:</source>
        <translation>Festgelegter Vertrauensanker:</translation>
    </message>
    <message>
        <source>or CA bundle &amp;file:</source>
        <translation>oder CA-Bündel-&amp;Datei:</translation>
    </message>
    <message>
        <source>Passcode only (DigiCert DTM)</source>
        <translation>Nur Passcode (DigiCert DTM)</translation>
    </message>
    <message>
        <source>User name and password</source>
        <translation>Benutzername und Passwort</translation>
    </message>
    <message>
        <source>TLS client certificate</source>
        <translation>TLS-Client-Zertifikat</translation>
    </message>
    <message>
        <source>Au&amp;thentication:</source>
        <translation>Au&amp;thentifizierung:</translation>
    </message>
    <message>
        <source>&amp;User name:</source>
        <translation>&amp;Benutzername:</translation>
    </message>
    <message>
        <source>&amp;Passcode:</source>
        <translation>&amp;Passcode:</translation>
    </message>
    <message>
        <source>Client &amp;certificate (PEM):</source>
        <translation>Client-&amp;Zertifikat (PEM):</translation>
    </message>
    <message>
        <source>Client &amp;key (PEM):</source>
        <translation>Client-&amp;Schlüssel (PEM):</translation>
    </message>
    <message>
        <source>or PKCS#&amp;12 file:</source>
        <translation>oder PKCS#&amp;12-Datei:</translation>
    </message>
    <message>
        <source>On the device (CSR from the device)</source>
        <translation>Auf dem Gerät (CSR vom Gerät)</translation>
    </message>
    <message>
        <source>On the EST server (/serverkeygen)</source>
        <translation>Auf dem EST-Server (/serverkeygen)</translation>
    </message>
    <message>
        <source>&amp;Key generation:</source>
        <translation>&amp;Schlüsselerzeugung:</translation>
    </message>
    <message>
        <source>Key &amp;algorithm:</source>
        <translation>Schlüssel&amp;algorithmus:</translation>
    </message>
    <message>
        <source>Subject %1:</source>
        <translation>Subject %1:</translation>
    </message>
    <message>
        <source>RFC 7030 (base64 DER, application/pkcs10)</source>
        <translation>RFC 7030 (Base64-DER, application/pkcs10)</translation>
    </message>
    <message>
        <source>PEM as text/plain (DigiCert DTM)</source>
        <translation>PEM als text/plain (DigiCert DTM)</translation>
    </message>
    <message>
        <source>CSR &amp;encoding:</source>
        <translation>CSR-&amp;Kodierung:</translation>
    </message>
    <message>
        <source>Require proof of possession (tls-unique)</source>
        <translation>Besitznachweis verlangen (tls-unique)</translation>
    </message>
    <message>
        <source>Allow a fresh enrollment when a device cannot re-enroll</source>
        <translation>Neue Registrierung erlauben, wenn ein Gerät nicht erneuern kann</translation>
    </message>
    <message>
        <source>Device &amp;driver:</source>
        <translation>Geräte&amp;treiber:</translation>
    </message>
    <message>
        <source>&amp;Baud rate:</source>
        <translation>&amp;Baudrate:</translation>
    </message>
    <message>
        <source>&amp;Parallel enrollments:</source>
        <translation>&amp;Parallele Registrierungen:</translation>
    </message>
    <message>
        <source>%1 filter:</source>
        <translation>Filter %1:</translation>
    </message>
    <message>
        <source>Also use serial ports without a USB VID:PID (built-in UARTs)</source>
        <translation>Auch serielle Ports ohne USB-VID:PID verwenden (eingebaute UARTs)</translation>
    </message>
    <message>
        <source>Scan each unit&apos;s label before provisioning it (scan-in)</source>
        <translation>Etikett jedes Geräts vor dem Provisionieren scannen (Scan-in)</translation>
    </message>
    <message>
        <source>Passcode &amp;uses allowed:</source>
        <translation>Erlaubte Passcode-&amp;Verwendungen:</translation>
    </message>
    <message>
        <source>e.g. 500 (empty: no limit)</source>
        <translation>z. B. 500 (leer: keine Grenze)</translation>
    </message>
    <message>
        <source>Passcode e&amp;xpires on:</source>
        <translation>Passcode läuft &amp;ab am:</translation>
    </message>
    <message>
        <source>YYYY-MM-DD (empty: never)</source>
        <translation>JJJJ-MM-TT (leer: nie)</translation>
    </message>
    <message>
        <source>&amp;Max enrollments per minute:</source>
        <translation>&amp;Max. Registrierungen pro Minute:</translation>
    </message>
    <message>
        <source>stay under the CA&apos;s throttle (empty: no limit)</source>
        <translation>unter der Drosselung der CA bleiben (leer: keine Grenze)</translation>
    </message>
    <message>
        <source>none pinned</source>
        <translation>keiner festgelegt</translation>
    </message>
    <message>
        <source>SHA-256 fingerprints of the pinned CA certificates</source>
        <translation>SHA-256-Fingerabdrücke der festgelegten CA-Zertifikate</translation>
    </message>
    <message>
        <source>pinned (PEM in the profile)</source>
        <translation>festgelegt (PEM im Profil)</translation>
    </message>
</context>
<context>
    <name>ProfileValidation</name>
    <message>
        <source>Required.</source>
        <translation>Erforderlich.</translation>
    </message>
    <message>
        <source>Must start with https:// (EST always uses TLS).</source>
        <translation>Muss mit https:// beginnen (EST nutzt immer TLS).</translation>
    </message>
    <message>
        <source>Required for client-certificate authentication.</source>
        <translation>Für die Authentifizierung mit Client-Zertifikat erforderlich.</translation>
    </message>
    <message>
        <source>No such file.</source>
        <translation>Datei nicht gefunden.</translation>
    </message>
    <message>
        <source>Give at least one subject attribute.</source>
        <translation>Mindestens ein Subject-Attribut angeben.</translation>
    </message>
    <message>
        <source>Only the placeholder {serial} is allowed.</source>
        <translation>Nur der Platzhalter {serial} ist erlaubt.</translation>
    </message>
    <message>
        <source>Two letters, e.g. DE.</source>
        <translation>Zwei Buchstaben, z. B. DE.</translation>
    </message>
    <message>
        <source>Required for user/password authentication.</source>
        <translation>Für die Authentifizierung mit Benutzer/Passwort erforderlich.</translation>
    </message>
</context>
<context>
    <name>ReenrollDialog</name>
    <message>
        <source>Re-enroll a unit</source>
        <translation>Gerät neu registrieren</translation>
    </message>
    <message>
        <source>&amp;Read certificate</source>
        <translation>Zertifikat &amp;lesen</translation>
    </message>
    <message>
        <source>New &amp;key (re-key)</source>
        <translation>Neuer &amp;Schlüssel (Re-Key)</translation>
    </message>
    <message>
        <source>The unit makes a new key for the new certificate</source>
        <translation>Das Gerät erzeugt einen neuen Schlüssel für das neue Zertifikat</translation>
    </message>
    <message>
        <source>Re&amp;new</source>
        <translation>&amp;Erneuern</translation>
    </message>
    <message>
        <source>Current certificate</source>
        <translation>Aktuelles Zertifikat</translation>
    </message>
    <message>
        <source>Old certificate</source>
        <translation>Altes Zertifikat</translation>
    </message>
    <message>
        <source>New certificate</source>
        <translation>Neues Zertifikat</translation>
    </message>
    <message>
        <source>Warnings</source>
        <translation>Warnungen</translation>
    </message>
    <message>
        <source>&amp;Port:</source>
        <translation>&amp;Port:</translation>
    </message>
    <message>
        <source>Reading the certificate on %1…</source>
        <translation>Zertifikat an %1 wird gelesen…</translation>
    </message>
    <message>
        <source>Renewing the certificate on %1…</source>
        <translation>Zertifikat an %1 wird erneuert…</translation>
    </message>
    <message>
        <source>Unit %1 holds this certificate.</source>
        <translation>Gerät %1 hat dieses Zertifikat.</translation>
    </message>
    <message>
        <source>Renewed: the new certificate is written to the unit and verified.</source>
        <translation>Erneuert: Das neue Zertifikat ist auf das Gerät geschrieben und geprüft.</translation>
    </message>
    <message>
        <source>This unit cannot be re-enrolled here: %1</source>
        <translation>Dieses Gerät kann hier nicht neu registriert werden: %1</translation>
    </message>
    <message>
        <source>Cannot renew: %1</source>
        <translation>Erneuerung nicht möglich: %1</translation>
    </message>
    <message>
        <source>The unit was disconnected: %1</source>
        <translation>Das Gerät wurde getrennt: %1</translation>
    </message>
    <message>
        <source>The unit did not answer as expected: %1</source>
        <translation>Das Gerät hat nicht wie erwartet geantwortet: %1</translation>
    </message>
    <message>
        <source>The EST server refused or failed: %1</source>
        <translation>Der EST-Server hat abgelehnt oder ist fehlgeschlagen: %1</translation>
    </message>
    <message>
        <source>Unexpected error (%1): %2</source>
        <translation>Unerwarteter Fehler (%1): %2</translation>
    </message>
</context>
<context>
    <name>ReportExport</name>
    <message>
        <source>CSV report (*.csv)</source>
        <translation>CSV-Bericht (*.csv)</translation>
    </message>
    <message>
        <source>JSON report (*.json)</source>
        <translation>JSON-Bericht (*.json)</translation>
    </message>
    <message>
        <source>Export batch report</source>
        <translation>Chargenbericht exportieren</translation>
    </message>
    <message>
        <source>Report saved: %1</source>
        <translation>Bericht gespeichert: %1</translation>
    </message>
    <message>
        <source>The report was not written: %1</source>
        <translation>Der Bericht wurde nicht geschrieben: %1</translation>
    </message>
</context>
<context>
    <name>ScanField</name>
    <message>
        <source>Scan a unit&apos;s label here</source>
        <translation>Etikett eines Geräts hier scannen</translation>
    </message>
    <message>
        <source>Label scan</source>
        <translation>Etikett-Scan</translation>
    </message>
</context>
<context>
    <name>ScanPanel</name>
    <message>
        <source>Label:</source>
        <translation>Etikett:</translation>
    </message>
    <message>
        <source>That was typed, not scanned: scan the label, or press Ctrl+Enter to enter it by hand</source>
        <translation>Das wurde getippt, nicht gescannt: Etikett scannen oder mit Strg+Eingabe von Hand übernehmen</translation>
    </message>
    <message numerus="yes">
        <source>%n unit(s) wait for their label</source>
        <translation>
            <numerusform>%n Gerät wartet auf sein Etikett</numerusform>
            <numerusform>%n Geräte warten auf ihr Etikett</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n scan(s) wait for a unit</source>
        <translation>
            <numerusform>%n Scan wartet auf ein Gerät</numerusform>
            <numerusform>%n Scans warten auf ein Gerät</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>SharedJournal</name>
    <message>
        <source>Shared journal</source>
        <translation>Gemeinsames Journal</translation>
    </message>
    <message>
        <source>unchanged (keyring, .pgpass or certificate)</source>
        <translation>unverändert (Schlüsselbund, .pgpass oder Zertifikat)</translation>
    </message>
    <message>
        <source>Database URL</source>
        <translation>Datenbank-URL</translation>
    </message>
    <message>
        <source>Station name</source>
        <translation>Stationsname</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>Passwort</translation>
    </message>
    <message>
        <source>Empty URL: this station&apos;s own journal. The password goes to the OS keyring, never into the URL. Takes effect when the station window is opened again.</source>
        <translation>Leere URL: das eigene Journal dieser Station. Das Passwort kommt in den Schlüsselbund des Systems, nie in die URL. Gilt ab dem nächsten Öffnen des Stationsfensters.</translation>
    </message>
    <message>
        <source>Test connection</source>
        <translation>Verbindung testen</translation>
    </message>
    <message>
        <source>No URL: the station uses its own journal.</source>
        <translation>Keine URL: die Station verwendet ihr eigenes Journal.</translation>
    </message>
    <message>
        <source>Connecting…</source>
        <translation>Verbinde…</translation>
    </message>
    <message>
        <source>Connected. Stations on this journal: {0}</source>
        <translation>Verbunden. Stationen in diesem Journal: {0}</translation>
    </message>
    <message>
        <source>Not connected: {0}</source>
        <translation>Nicht verbunden: {0}</translation>
    </message>
    <message>
        <source>Saving…</source>
        <translation>Speichere…</translation>
    </message>
</context>
<context>
    <name>SignInDialog</name>
    <message>
        <source>Sign in</source>
        <translation>Anmelden</translation>
    </message>
    <message>
        <source>&amp;Name:</source>
        <translation>&amp;Name:</translation>
    </message>
    <message>
        <source>&amp;PIN:</source>
        <translation>&amp;PIN:</translation>
    </message>
    <message>
        <source>Technicians sign in with the technician PIN, engineers with the engineer PIN. Your name is recorded with every batch you start.</source>
        <translation>Techniker melden sich mit der Techniker-PIN an, Ingenieure mit der Ingenieur-PIN. Ihr Name wird mit jeder Charge gespeichert, die Sie starten.</translation>
    </message>
</context>
<context>
    <name>StationBar</name>
    <message>
        <source>scan or type</source>
        <translation>scannen oder eingeben</translation>
    </message>
    <message>
        <source>Profile:</source>
        <translation>Profil:</translation>
    </message>
    <message>
        <source>EST server:</source>
        <translation>EST-Server:</translation>
    </message>
    <message>
        <source>Trust anchor:</source>
        <translation>Vertrauensanker:</translation>
    </message>
    <message>
        <source>Keyring:</source>
        <translation>Schlüsselbund:</translation>
    </message>
    <message>
        <source>Journal:</source>
        <translation>Journal:</translation>
    </message>
    <message>
        <source>MES:</source>
        <translation>MES:</translation>
    </message>
    <message>
        <source>&amp;Work order:</source>
        <translation>&amp;Auftrag:</translation>
    </message>
    <message>
        <source>&amp;Operator:</source>
        <translation>&amp;Bediener:</translation>
    </message>
    <message>
        <source>checking…</source>
        <translation>wird geprüft…</translation>
    </message>
    <message>
        <source>reachable</source>
        <translation>erreichbar</translation>
    </message>
    <message>
        <source>not reachable</source>
        <translation>nicht erreichbar</translation>
    </message>
    <message>
        <source>station %1, own journal</source>
        <translation>Station %1, eigenes Journal</translation>
    </message>
    <message>
        <source>station %1, shared journal</source>
        <translation>Station %1, gemeinsames Journal</translation>
    </message>
    <message>
        <source>station %1, shared journal unreachable: units wait</source>
        <translation>Station %1, gemeinsames Journal nicht erreichbar: Geräte warten</translation>
    </message>
    <message>
        <source>not started: check the MES settings</source>
        <translation>nicht gestartet: MES-Einstellungen prüfen</translation>
    </message>
    <message>
        <source>not configured</source>
        <translation>nicht eingerichtet</translation>
    </message>
    <message>
        <source>all records delivered</source>
        <translation>alle Datensätze übergeben</translation>
    </message>
    <message numerus="yes">
        <source>%n record(s) waiting: drop folder not writable</source>
        <translation>
            <numerusform>%n Datensatz wartet: Ablageordner nicht beschreibbar</numerusform>
            <numerusform>%n Datensätze warten: Ablageordner nicht beschreibbar</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n record(s) waiting: MES not reachable</source>
        <translation>
            <numerusform>%n Datensatz wartet: MES nicht erreichbar</numerusform>
            <numerusform>%n Datensätze warten: MES nicht erreichbar</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <source>%n record(s) waiting</source>
        <translation>
            <numerusform>%n Datensatz wartet</numerusform>
            <numerusform>%n Datensätze warten</numerusform>
        </translation>
    </message>
    <message>
        <source>reading…</source>
        <translation>wird gelesen…</translation>
    </message>
    <message>
        <source>cannot read the CA file</source>
        <translation>CA-Datei nicht lesbar</translation>
    </message>
    <message>
        <source>none pinned: bootstrap the CA in the profile editor</source>
        <translation>keiner festgelegt: CA im Profileditor einrichten</translation>
    </message>
    <message numerus="yes">
        <source> (+%n more)</source>
        <translation>
            <numerusform> (+%n weiterer)</numerusform>
            <numerusform> (+%n weitere)</numerusform>
        </translation>
    </message>
    <message>
        <source>passcode present</source>
        <translation>Passcode vorhanden</translation>
    </message>
    <message>
        <source>passcode missing</source>
        <translation>Passcode fehlt</translation>
    </message>
    <message>
        <source>no secret needed</source>
        <translation>kein Geheimnis nötig</translation>
    </message>
    <message>
        <source>keyring unavailable</source>
        <translation>Schlüsselbund nicht verfügbar</translation>
    </message>
    <message>
        <source>secret supplied at start</source>
        <translation>Geheimnis beim Start übergeben</translation>
    </message>
    <message>
        <source>%1 (signed in)</source>
        <translation>%1 (angemeldet)</translation>
    </message>
</context>
<context>
    <name>StatisticsDialog</name>
    <message>
        <source>Line statistics</source>
        <translation>Linienstatistik</translation>
    </message>
    <message>
        <source>all work orders</source>
        <translation>alle Aufträge</translation>
    </message>
    <message>
        <source>all batches</source>
        <translation>alle Chargen</translation>
    </message>
    <message>
        <source>&amp;Show</source>
        <translation>An&amp;zeigen</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>Wird geladen…</translation>
    </message>
    <message>
        <source>Export &amp;PNG…</source>
        <translation>&amp;PNG exportieren…</translation>
    </message>
    <message>
        <source>Export &amp;CSV…</source>
        <translation>&amp;CSV exportieren…</translation>
    </message>
    <message>
        <source>Units per hour (green: done, red: failed)</source>
        <translation>Einheiten pro Stunde (grün: fertig, rot: fehlgeschlagen)</translation>
    </message>
    <message>
        <source>Failures by step (bars) and cumulative share (line)</source>
        <translation>Fehler nach Schritt (Balken) und kumulierter Anteil (Linie)</translation>
    </message>
    <message>
        <source>Failures by cause (bars) and cumulative share (line)</source>
        <translation>Fehler nach Ursache (Balken) und kumulierter Anteil (Linie)</translation>
    </message>
    <message>
        <source>Time per step in seconds (dark: p50, light: p95)</source>
        <translation>Zeit pro Schritt in Sekunden (dunkel: p50, hell: p95)</translation>
    </message>
    <message>
        <source>First-pass yield per station (%)</source>
        <translation>Erstdurchlaufausbeute pro Station (%)</translation>
    </message>
    <message>
        <source>&amp;Work order:</source>
        <translation>&amp;Auftrag:</translation>
    </message>
    <message>
        <source>&amp;Batch:</source>
        <translation>&amp;Charge:</translation>
    </message>
    <message>
        <source>Cannot read the journal: %1</source>
        <translation>Das Journal kann nicht gelesen werden: %1</translation>
    </message>
    <message>
        <source>First-pass yield %1 (%2 of %3 units); done %4, still failed %5, in progress %6, failures %7.</source>
        <translation>Erstdurchlaufausbeute %1 (%2 von %3 Einheiten); fertig %4, noch fehlgeschlagen %5, in Arbeit %6, Fehler %7.</translation>
    </message>
    <message>
        <source>Export charts</source>
        <translation>Diagramme exportieren</translation>
    </message>
    <message>
        <source>PNG images (*.png)</source>
        <translation>PNG-Bilder (*.png)</translation>
    </message>
    <message>
        <source>Export statistics</source>
        <translation>Statistik exportieren</translation>
    </message>
    <message>
        <source>CSV files (*.csv)</source>
        <translation>CSV-Dateien (*.csv)</translation>
    </message>
    <message>
        <source>Saved %1.</source>
        <translation>%1 gespeichert.</translation>
    </message>
    <message>
        <source>Cannot write the file: %1</source>
        <translation>Die Datei kann nicht geschrieben werden: %1</translation>
    </message>
</context>
<context>
    <name>Urgency</name>
    <message>
        <source>Expired</source>
        <extracomment>urgency from :meth:`CertificateView.urgency` -&gt; (untranslated label, tone)</extracomment>
        <translation>Abgelaufen</translation>
    </message>
    <message>
        <source>Critical: under 7 days</source>
        <translation>Kritisch: unter 7 Tagen</translation>
    </message>
    <message>
        <source>Renew soon: under 30 days</source>
        <translation>Bald erneuern: unter 30 Tagen</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>OK</translation>
    </message>
</context>
<context>
    <name>dialog</name>
    <message>
        <source>Uses allowed must be a whole number.</source>
        <translation>Erlaubte Verwendungen müssen eine ganze Zahl sein.</translation>
    </message>
</context>
</TS>
