"""The catalogue of texts that background jobs store with a delivery.

A worker writes its texts when it runs, in no request and so in no user's language. Each kind
of text therefore has a stable code here and a Danish template with named placeholders. Where a
text is stored, its code and parameters are stored next to it, and the Danish text itself is
still written to the old field (logs, the audit trail, exports and rows from before the codes
read that). Pages render the text again from code and parameters in the reader's language
(`render`), and fall back to the stored Danish text when a row has no code or its code is no
longer here, so an entry may be removed without breaking old rows.

The templates are marked with `gettext_noop`: the Danish text is the template itself, so the
stored text is the same byte for byte whatever language is active, and `gettext` is only asked
when a page shows it.

A parameter is a string or a number; a nested text `{"code": ..., "params": {...}}` for a
part that has words of its own (a delimiter's name, an SFTP error inside an event); or a list of
nested texts, shown joined by "; ". A whole number named in `QUANTITIES` is shown with the
thousands separator (344.149 bytes) when the text is written, in Danish in the stored text and
in the reader's language on a page; it is stored as the plain number, so rows from before read
the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import get_language, gettext, gettext_noop

from flisportal.lib.numbers import grouped

BILINGUAL = "bilingual"

# The parameters that are amounts: byte counts, numbers of rows, errors, fields, attempts,
# minutes, and the limits they are measured against. Only their whole-number values get a
# thousands separator. Every other name is left as it came, because a number there is a name for
# something: a period (202610), a kommune code, an error code, an HTTP status, a contract version,
# a row to look up in the file, a byte in hex, a port inside `where`; a separator would make it
# read as an amount or make it unsearchable. A string is never touched whatever its name (a
# contract's limit as the contract wrote it, a time, `lines`), and a name may mean a number in
# one text and words in another (`sent` is bytes in sftp.local_size_changed and a time in
# event.receipt_overdue; `errors` a count in event.rejected and a list in the receipt texts).
# tests/deliveries/test_message_numbers.py fails on a placeholder that is in neither this set
# nor its list of names that are not amounts, so a new one is decided, not forgotten.
QUANTITIES = frozenset(
    {
        "arrived",
        "attempt",
        "attempts",
        "count",
        "declared",
        "errors",
        "fields",
        "length",
        "limit",
        "minutes",
        "rows",
        "sent",
        "size",
        "width",
    }
)

MESSAGES: dict[str, str] = {
    # --- words used inside other texts ---
    "word.delimiter.comma": gettext_noop("komma (,)"),
    "word.delimiter.tab": gettext_noop("tabulator"),
    "word.delimiter.pipe": gettext_noop("lodret streg (|)"),
    "word.delimiter.semicolon": gettext_noop("semikolon (;)"),
    # --- validation: the file as a whole ---
    "validation.empty": gettext_noop(
        "Filen er tom. Upload et udtræk med en overskriftsrække og data."
    ),
    "validation.utf16": gettext_noop(
        "Filen er gemt som UTF-16. Gem den som CSV i UTF-8 (eller Windows-1252) og upload igen."
    ),
    "validation.nul": gettext_noop(
        "Filen indeholder NUL-tegn og er ikke en tekstfil (eller er gemt som UTF-16). Gem den "
        "som CSV i UTF-8 og upload igen."
    ),
    "validation.mixed_charsets": gettext_noop(
        "Filen blander to tegnsæt: det meste er Windows-1252, men nogle bogstaver er gemt som "
        "UTF-8 («%(found)s» i stedet for «%(meant)s»). Gem hele filen som CSV i UTF-8 og upload "
        "igen."
    ),
    "validation.unknown_charset": gettext_noop(
        "Filens tegnsæt kan ikke genkendes: den er hverken gyldig UTF-8 eller Windows-1252 "
        "(byte 0x%(byte)s). Gem filen som CSV i UTF-8 og upload igen."
    ),
    "validation.not_text": gettext_noop(
        "Filen kan ikke læses som tekst efter omkodning til UTF-8. Gem den som CSV i UTF-8 og "
        "upload igen."
    ),
    "validation.first_line_empty": gettext_noop(
        "Første linje er tom: filen skal starte med overskriftsrækken."
    ),
    "validation.wrong_delimiter": gettext_noop(
        "Filen bruger %(found)s som skilletegn, men kontrakten kræver %(required)s. Gem filen "
        "med semikolon som skilletegn og upload igen."
    ),
    "validation.no_delimiter": gettext_noop(
        "Overskriftsrækken indeholder ikke skilletegnet %(required)s: filen er ikke en CSV-fil "
        "efter kontrakten."
    ),
    "validation.duplicate_column": gettext_noop(
        "Kolonnen «%(name)s» står mere end én gang i overskriften."
    ),
    "validation.misspelled_column": gettext_noop(
        "Kolonnen «%(name)s» kendes ikke – mente du «%(guess)s»?"
    ),
    "validation.unnamed_column": gettext_noop(
        "Overskriften har en kolonne uden navn (fx et ekstra skilletegn sidst på linjen)."
    ),
    "validation.extra_column": gettext_noop(
        "Kolonnen «%(name)s» hører ikke til kontrakten; fjern den."
    ),
    "validation.missing_column": gettext_noop("Kolonnen «%(name)s» mangler i overskriften."),
    "validation.no_data": gettext_noop("Filen har en overskriftsrække, men ingen data."),
    "validation.too_many_fields": gettext_noop(
        "Række %(row)s har %(fields)s felter, men overskriften har %(width)s. Tjek skilletegn "
        "(;) og anførselstegn i rækken."
    ),
    "validation.csv_error": gettext_noop(
        "Filen kan ikke læses som CSV omkring række %(row)s (%(error)s). Tjek anførselstegn i "
        "rækken."
    ),
    "validation.not_csv": gettext_noop("Filen kan ikke læses som CSV: %(error)s"),
    # --- validation: one value (`value` is the issue's own value, not a parameter) ---
    "validation.required": gettext_noop("«%(column)s» skal udfyldes."),
    "validation.integer": gettext_noop("«%(value)s» er ikke et heltal."),
    "validation.number_decimal": gettext_noop(
        "«%(value)s» er ikke et tal efter kontrakten: brug decimalkomma, fx 12,5."
    ),
    "validation.number": gettext_noop(
        "«%(value)s» er ikke et tal (brug decimalkomma og ingen tusindtalsseparator)."
    ),
    "validation.date_format": gettext_noop("«%(value)s» er ikke en dato på formen ÅÅÅÅ-MM-DD."),
    "validation.date_real": gettext_noop("«%(value)s» er ikke en dato, der findes."),
    # `pattern` is the rule in words in both languages (deliveries.rules.rule_words_bilingual);
    # rows from before that hold the raw pattern.
    "validation.pattern": gettext_noop("«%(value)s» har ikke det krævede format: %(pattern)s"),
    "validation.enum": gettext_noop("«%(value)s» er ikke en tilladt værdi (tilladt: %(allowed)s)."),
    "validation.min_length": gettext_noop("«%(value)s» er kortere end %(length)s tegn."),
    "validation.max_length": gettext_noop("Værdien er længere end %(length)s tegn."),
    "validation.minimum": gettext_noop("«%(value)s» skal være mindst %(limit)s."),
    "validation.maximum": gettext_noop("«%(value)s» skal være højst %(limit)s."),
    "validation.cpr": gettext_noop(
        "«%(value)s» er ikke et muligt CPR-nummer: de første seks cifre er ikke en rigtig dato "
        "(DDMMÅÅ)."
    ),
    "validation.kommune_digits": gettext_noop(
        "Kommunekoden skal skrives med tre cifre (%(kommune)s), ikke «%(value)s»."
    ),
    "validation.kommune_other": gettext_noop(
        "Kommunekoden «%(value)s» er ikke leverancens kommune (%(kommune)s)."
    ),
    "validation.period": gettext_noop(
        "Perioden «%(value)s» er ikke leverancens periode: i filen skal den stå som "
        "%(period)s (ÅÅÅÅMM)."
    ),
    "validation.equals_prefix": gettext_noop(
        "«%(value)s» skal være de første %(length)s cifre af «%(of)s»."
    ),
    "validation.sum_lte": gettext_noop(
        "Summen af %(fields)s er større end «%(limit)s» (%(value)s)."
    ),
    "validation.required_if": gettext_noop(
        "«%(column)s» skal udfyldes, når «%(field)s» er %(values)s."
    ),
    "validation.gte": gettext_noop("«%(value)s» i «%(column)s» ligger før «%(other)s»."),
    "validation.lte": gettext_noop("«%(value)s» i «%(column)s» ligger efter «%(other)s»."),
    "validation.date_in_period": gettext_noop(
        "Datoen «%(value)s» ligger uden for leverancens periode (%(period)s)."
    ),
    "validation.primary_key": gettext_noop("Nøglen (%(key)s) findes allerede i række %(first)s."),
    # --- validation: notices, not errors ---
    "validation.empty_line_skipped": gettext_noop(
        "1 tom linje blev sprunget over (linje %(lines)s). Den er ikke en fejl, men kan fjernes "
        "fra udtrækket."
    ),
    "validation.empty_lines_skipped": gettext_noop(
        "%(count)s tomme linjer blev sprunget over (linje %(lines)s). De er ikke en fejl, men "
        "kan fjernes fra udtrækket."
    ),
    # --- SFTP errors (deliveries.sftp and the push) ---
    "word.seconds.one": gettext_noop("%(n)s sekund"),
    "word.seconds.many": gettext_noop("%(n)s sekunder"),
    "word.sftp.transfer": gettext_noop("overførslen af %(path)s"),
    "word.sftp.stat": gettext_noop("opslaget af %(path)s"),
    "word.sftp.listdir": gettext_noop("visningen af mappen %(path)s"),
    "word.sftp.download": gettext_noop("hentningen af %(path)s"),
    "word.sftp.remove": gettext_noop("sletningen af %(path)s"),
    "word.sftp.rename": gettext_noop("omdøbningen af %(path)s til %(new)s"),
    "word.sftp.open": gettext_noop("åbningen af SFTP"),
    "sftp.key_unreadable": gettext_noop(
        "SFTP-brugerens private nøgle kan ikke læses (kun RSA- og Ed25519-nøgler i OpenSSH-"
        "format understøttes). En administrator skal danne eller indlæse nøglen igen."
    ),
    "sftp.local_size_changed": gettext_noop(
        "Den lokale fil til %(path)s var %(sent)s bytes, men der var ventet %(size)s. Den gemte "
        "fil er ændret eller ødelagt; upload leverancen igen."
    ),
    "sftp.local_read": gettext_noop(
        "Den lokale fil til %(path)s kunne ikke læses: %(error)s. Portalen prøver igen senere; "
        "kontrollér portalens fillager, hvis det bliver ved."
    ),
    "sftp.local_write": gettext_noop(
        "%(path)s kunne ikke gemmes lokalt: %(error)s. Portalen prøver igen senere; kontrollér "
        "portalens fillager (fx ledig plads), hvis det bliver ved."
    ),
    "sftp.timeout": gettext_noop(
        "Serveren %(where)s svarede ikke under %(action)s inden for tidsgrænsen. Portalen "
        "prøver igen senere."
    ),
    "sftp.access_denied": gettext_noop(
        "Serveren %(where)s nægtede adgang under %(action)s. SFTP-brugeren har ikke "
        "rettigheder til %(path)s; en administrator skal få rettighederne rettet."
    ),
    "sftp.not_found": gettext_noop(
        "%(path)s findes ikke på serveren %(where)s (%(action)s mislykkedes). Kontrollér stien "
        "og at mappen findes for SFTP-brugeren."
    ),
    "sftp.connection_lost": gettext_noop(
        "Forbindelsen til %(where)s blev afbrudt under %(action)s. Portalen prøver igen senere; "
        "en delvist overført fil bliver overskrevet."
    ),
    "sftp.refused": gettext_noop(
        "Serveren %(where)s afviste %(action)s: %(error)s. Portalen prøver igen senere."
    ),
    "sftp.too_large": gettext_noop(
        "%(path)s er mindst %(size)s bytes, mere end de højst %(limit)s, der må hentes; den "
        "hentes ikke."
    ),
    "sftp.unexpected": gettext_noop("Uventet fejl under %(action)s på %(where)s: %(error)s"),
    "sftp.connection_refused": gettext_noop(
        "Forbindelsen til %(where)s blev afvist: serveren kører ikke eller lytter ikke på "
        "porten. Portalen prøver igen senere; kontrollér endpointets vært og port, hvis det "
        "bliver ved."
    ),
    "sftp.connect_timeout": gettext_noop(
        "Ingen forbindelse til %(where)s inden for %(seconds)s. Portalen prøver igen senere."
    ),
    "sftp.dns": gettext_noop(
        "Værtsnavnet %(host)s kan ikke slås op (%(error)s). Kontrollér endpointets værtsnavn; "
        "portalen prøver igen senere."
    ),
    "sftp.no_connection": gettext_noop(
        "Ingen forbindelse til %(where)s: %(error)s. Portalen prøver igen senere."
    ),
    "sftp.pinned_key_unreadable": gettext_noop(
        "Den fastlåste værtsnøgle for %(where)s kan ikke læses (%(error)s). En administrator "
        "skal rette den på endpointet."
    ),
    "sftp.handshake_failed": gettext_noop(
        "SSH-forhandlingen med %(where)s mislykkedes: serveren svarede ikke inden for "
        "%(seconds)s, eller forbindelsen blev afbrudt (%(error)s). Portalen prøver igen senere."
    ),
    "sftp.handshake_unfinished": gettext_noop(
        "SSH-forhandlingen med %(where)s blev ikke færdig inden for %(seconds)s. Portalen "
        "prøver igen senere."
    ),
    "sftp.no_pinned_key": gettext_noop(
        "Endpointet %(where)s har ingen fastlåst værtsnøgle, så serverens identitet kan ikke "
        "kontrolleres. Serveren viser nøglen %(key)s. En administrator skal kontrollere "
        "fingeraftrykket hos udbyderen og fastlåse det på endpointet."
    ),
    "sftp.host_key_mismatch": gettext_noop(
        "Serveren %(where)s viser en anden værtsnøgle end den fastlåste: %(key)s. Forbindelsen "
        "er afbrudt, før der blev logget ind. En administrator skal kontrollere hos udbyderen, "
        "om nøglen er skiftet, og i så fald fastlåse den nye."
    ),
    "sftp.login_timeout": gettext_noop(
        "Serveren %(where)s svarede ikke på login inden for %(seconds)s. Portalen prøver igen "
        "senere."
    ),
    # The portal never falls back to another key (a retired one has no private half left), so
    # the text says so and points at the usual cause: a rotation confirmed before KOMBIT
    # registered the key.
    "sftp.login_refused": gettext_noop(
        "Serveren %(where)s afviste login for SFTP-brugeren %(username)s med nøglen "
        "%(fingerprint)s. Portalen logger kun ind med brugerens aktive nøgle og prøver ikke "
        "en anden. Kontrollér at netop den offentlige nøgle er registreret hos udbyderen "
        "(KOMBITs Administrationsmodul) for denne bruger; er den for nylig bekræftet efter en "
        "nøglerotation, så registrér den dér, og prøv leverancen igen."
    ),
    "sftp.login_interrupted": gettext_noop(
        "Forbindelsen til %(where)s blev afbrudt under login (%(error)s). Portalen prøver igen "
        "senere."
    ),
    "sftp.no_subsystem": gettext_noop(
        "Serveren %(where)s åbnede ikke SFTP for %(username)s (%(error)s). Portalen prøver igen "
        "senere."
    ),
    "push.no_sftp_user": gettext_noop(
        "It-systemet %(system)s har ingen SFTP-bruger på miljøet %(endpoint)s. En administrator "
        "skal oprette SFTP-brugeren og dens nøgle (Admin → SFTP-brugere) og derefter trykke "
        "«Prøv igen»."
    ),
    "push.no_active_key": gettext_noop(
        "SFTP-brugeren %(username)s på %(endpoint)s har ingen aktiv SSH-nøgle. En administrator "
        "skal danne eller indlæse en nøgle, registrere den offentlige del hos Serviceplatformen "
        "og derefter trykke «Prøv igen»."
    ),
    "push.key_not_decryptable": gettext_noop(
        "Den private nøgle for SFTP-brugeren %(username)s kan ikke dekrypteres med "
        "FLISPORTAL_KEY_ENCRYPTION_KEYS. En driftsansvarlig skal tilføje den nøgle, den blev "
        "krypteret med, eller en administrator skal danne en ny SSH-nøgle."
    ),
    "push.route_closed": gettext_noop(
        "Ruten %(route)s er ikke længere etableret (status: %(status)s), så filen er ikke sendt."
    ),
    "push.agreement_not_signed": gettext_noop(
        "Der er ikke længere en underskrevet databehandleraftale mellem %(vendor)s og "
        "%(kommune)s, så filen er ikke sendt: personoplysninger må ikke forlade leverandøren "
        "uden en aftale."
    ),
    "push.unexpected": gettext_noop(
        "Afsendelsen stoppede uventet (%(error)s). En administrator kan se detaljerne i "
        "workerens log og trykke «Prøv igen»."
    ),
    "push.file_missing": gettext_noop(
        "Den gemte fil %(name)s findes ikke længere i portalens lager, så den kan ikke sendes. "
        "Upload udtrækket igen som en ny leverance."
    ),
    "push.conversion_failed": gettext_noop(
        "Filen kunne ikke konverteres fra %(source)s til %(target)s før afsendelsen "
        "(%(error)s). Upload udtrækket igen som en ny leverance."
    ),
    "push.size_mismatch": gettext_noop(
        "Serveren %(where)s har %(arrived)s bytes af %(remote)s, men der blev sendt %(size)s. "
        "Portalen sender filen igen."
    ),
    # --- the delivery's timeline (DeliveryEvent) ---
    "event.uploaded": gettext_noop("Uploadet som «%(name)s»."),
    "event.uploaded_confirmed": gettext_noop("Uploadet som «%(name)s» (genlevering bekræftet)."),
    "event.uploaded_correction": gettext_noop(
        "Uploadet som «%(name)s», rettelse af leverance %(replaces)s."
    ),
    "event.uploaded_correction_confirmed": gettext_noop(
        "Uploadet som «%(name)s», rettelse af leverance %(replaces)s (genlevering bekræftet)."
    ),
    "event.validation_started": gettext_noop("Validering startet."),
    "event.no_contract": gettext_noop(
        "Der er ingen aktiv datakontrakt for %(area)s; en administrator skal indlæse en."
    ),
    "event.validation_crashed": gettext_noop(
        "Valideringen stoppede uventet (%(error)s); en administrator kan starte den igen."
    ),
    "check.crashed": gettext_noop(
        "Kontrollen stoppede uventet (%(error)s). Prøv at kontrollere filen igen, og kontakt "
        "en administrator, hvis det sker igen."
    ),
    "check.lost": gettext_noop(
        "Kontrollen blev afbrudt, og filen findes ikke længere i portalens lager, så den kan "
        "ikke kontrolleres igen. Vælg filen igen under «Upload dataudtræk», og tryk «Kontrollér "
        "uden at sende»."
    ),
    "event.valid": gettext_noop("Godkendt efter kontrakt %(version)s: %(rows)s rækker."),
    "event.rejected_file": gettext_noop("Afvist: %(problem)s"),
    "event.rejected": gettext_noop(
        "Afvist efter kontrakt %(version)s: %(errors)s fejl i %(rows)s rækker."
    ),
    "event.push_started": gettext_noop(
        "Afsendelse til Serviceplatformen startet (forsøg %(attempt)s af %(limit)s)."
    ),
    "event.sent": gettext_noop(
        "Sendt til %(endpoint)s som OUT/%(wire_name)s (%(size)s bytes) med triggerfil (InfRef "
        "%(infref)s). Venter på teknisk kvittering."
    ),
    "event.push_retry": gettext_noop(
        "Forsøg %(attempt)s af %(limit)s mislykkedes: %(error)s Næste forsøg omkring %(when)s."
    ),
    "event.push_failed": gettext_noop(
        "Afsendelsen mislykkedes og prøves ikke igen af sig selv: %(error)s Når fejlen er "
        "rettet, kan uploaderen eller en administrator trykke «Prøv igen»."
    ),
    "event.push_given_up": gettext_noop(
        "Afsendelsen er opgivet efter %(attempt)s forsøg. Sidste fejl: %(error)s Uploaderen "
        "eller en administrator kan trykke «Prøv igen», når forbindelsen virker."
    ),
    "event.retry_push": gettext_noop(
        "%(name)s prøver afsendelsen igen (samme SendersFileId og filnavn, %(attempts)s nye "
        "forsøg)."
    ),
    "event.retry_validation": gettext_noop("%(name)s starter valideringen igen."),
    "word.receipt_error": gettext_noop("fejl %(code)s – %(meaning)s %(description)s"),
    "event.receipt_distributed": gettext_noop(
        "Teknisk kvittering: distribueret af Serviceplatformen (FileTransferUUID %(uuid)s)."
    ),
    "event.receipt_distributed_late": gettext_noop(
        "Teknisk kvittering: distribueret af Serviceplatformen (FileTransferUUID %(uuid)s). "
        "Kvitteringen kom efter, at portalen havde opgivet afsendelsen."
    ),
    "event.receipt_refused": gettext_noop(
        "Teknisk kvittering: afvist af Serviceplatformen (FileTransferUUID %(uuid)s): %(errors)s"
    ),
    "event.receipt_refused_late": gettext_noop(
        "Teknisk kvittering: afvist af Serviceplatformen (FileTransferUUID %(uuid)s): "
        "%(errors)s Kvitteringen kom efter, at portalen havde opgivet afsendelsen."
    ),
    "word.work.validation": gettext_noop("valideringen"),
    "word.work.push": gettext_noop("afsendelsen"),
    "event.resumed": gettext_noop(
        "Genoptaget af afstemningen: %(work)s har ikke vist livstegn siden %(since)s (workeren "
        "er stoppet, eller jobbet er tabt). Den startes igen."
    ),
    "event.receipt_overdue": gettext_noop(
        "Ingen teknisk kvittering %(minutes)s minutter efter afsendelsen (%(sent)s). Portalen "
        "ser fortsat efter den; kontakt Serviceplatformens support, hvis den udebliver."
    ),
    "event.fetched": gettext_noop(
        "Hentet af %(system)s (%(user)s) %(when)s; FileTransferUUID %(uuid)s."
    ),
    # --- the Hent side's verdict on a fetched file (Receipt.verdict_detail) ---
    # Two checks that failed, one after the other.
    "fetch.and": gettext_noop("%(first)s %(then)s"),
    "fetch.data_missing": gettext_noop(
        "Datafilen %(name)s mangler i IN/ ved siden af metadatafilen."
    ),
    "fetch.misplaced": gettext_noop(
        "Metadatafilen beskriver %(described)s, men ligger ved %(name)s."
    ),
    "fetch.unknown_sender": gettext_noop(
        "Afsenderen %(sender)s er ikke en kendt SFTP-bruger på %(endpoint)s."
    ),
    "fetch.no_routing": gettext_noop(
        "Metadatafilen har ingen ruteoplysninger (SFTPDynamicRoutingInfo); SF1630 leverer kun ad "
        "etablerede ruter."
    ),
    "fetch.wrong_system": gettext_noop(
        "Afsenderen %(sender)s hører til it-systemet %(system)s, men metadatafilen siger "
        "%(declared)s."
    ),
    "fetch.unknown_infref": gettext_noop("InfRef %(infref)s kendes ikke."),
    "fetch.no_route": gettext_noop(
        "Ingen etableret rute for InfRef %(infref)s fra %(sender)s (%(sender_authority)s → "
        "%(recipient_authority)s) til %(recipient)s."
    ),
    "fetch.too_large": gettext_noop(
        "Datafilen er mindst %(size)s bytes, mere end metadatafilens SizeInBytes (%(declared)s) "
        "tillader; den er hverken hentet eller gemt, kun fjernet fra IN/. Afsenderen må sende "
        "den igen med rigtige metadata."
    ),
    "fetch.too_large_unknown": gettext_noop(
        "Datafilen er mindst %(size)s bytes, mere end de højst %(limit)s, portalen henter uden "
        "læselige metadata; den er hverken hentet eller gemt, kun fjernet fra IN/."
    ),
    "fetch.bad_uuid": gettext_noop(
        "FileTransferUUID i metadatafilen er ikke et UUID (%(value)s); parret er sat i karantæne "
        "under et afledt id."
    ),
    "fetch.bad_size": gettext_noop(
        "SizeInBytes i metadatafilen (%(declared)s) er større end nogen fil, portalen kan "
        "registrere."
    ),
    "fetch.unsafe_name": gettext_noop(
        "Filnavnet %(name)s er ikke et almindeligt filnavn (skråstreg, kontroltegn eller "
        "'..'); portalen hverken henter eller fjerner filen. Bed Serviceplatformens support "
        "fjerne den fra IN/."
    ),
    "fetch.size": gettext_noop(
        "Filen er %(size)s bytes, men metadatafilen siger %(declared)s (SizeInBytes)."
    ),
    "fetch.checksum": gettext_noop(
        "SHA-256 af den hentede fil (%(fetched)s…) er ikke den, portalen registrerede for de "
        "afsendte bytes (%(uploaded)s…): filen er ændret undervejs."
    ),
    # A text that comes written in both languages (deliveries.protocol's ProtocolError): no
    # template to translate, the parameter of the reader's language is shown.
    BILINGUAL: "%(da)s",
}


@dataclass(frozen=True)
class Text:
    """A stored text before it is stored: its code and parameters, and its Danish words."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in MESSAGES:
            raise KeyError(f"no message {self.code!r} in deliveries.messages")

    @property
    def danish(self) -> str:
        """The text as stored in the old field: the template itself, never translated."""
        return _format(self.code, self.params, translate=False)

    def as_param(self) -> dict[str, Any]:
        """This text as a parameter of another one."""
        return {"code": self.code, "params": self.params}


def stored_as(
    field: str, said: Text | str, *, beside: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The model fields that keep a text: `field` its Danish words, `<field>_code` and
    `<field>_params` what shows it in the reader's language (empty for plain Danish text).

    The one way a text is stored: events, a delivery's last error, a fetched file's verdict
    detail and validation issues all take their fields from here, and an empty text ("")
    clears all three.

    `beside` holds parameters the row keeps in columns of its own (a validation issue's
    `value`, up to 1,000 rows a delivery): they fill in the Danish words but are not stored
    again in `<field>_params`; what shows the text adds them back
    (`ValidationIssue.message_text`)."""
    if isinstance(said, Text):
        danish = (
            _format(said.code, {**said.params, **beside}, translate=False)
            if beside
            else said.danish
        )
        return {field: danish, f"{field}_code": said.code, f"{field}_params": said.params}
    return {field: said, f"{field}_code": "", f"{field}_params": {}}


def seconds(value: float) -> Text:
    """A number of seconds in words, as the SFTP errors say it."""
    return text("word.seconds.one" if value == 1 else "word.seconds.many", n=f"{value:g}")


def text(code: str, /, **params: Any) -> Text:
    return Text(code, params)


def _format(code: str, params: dict[str, Any], *, translate: bool) -> str:
    template = MESSAGES[code]
    if code == BILINGUAL:
        english = translate and (get_language() or "").startswith("en")
        return str(params["en" if english else "da"])
    if translate:
        template = gettext(template)
    values = {name: _param(name, value, translate=translate) for name, value in params.items()}
    return template % values if "%" in template else template


def _param(name: str, value: Any, *, translate: bool) -> Any:
    if isinstance(value, dict):
        return _format(value["code"], value.get("params", {}), translate=translate)
    if isinstance(value, list):
        return "; ".join(_param(name, item, translate=translate) for item in value)
    if isinstance(value, int) and name in QUANTITIES:
        # The stored text is Danish whatever language the worker happens to have active.
        return grouped(value, language=None if translate else "da")
    return value


def render(code: str, params: dict[str, Any], *, fallback: str) -> str:
    """The text of `code` in the active language, or `fallback` (the stored Danish text) when
    there is no code, the code is not in the catalogue any more, or the parameters do not fit
    its template (a row written by an older version of a text)."""
    if not code:
        return fallback
    try:
        return _format(code, params, translate=True)
    except (KeyError, TypeError, ValueError):
        return fallback
