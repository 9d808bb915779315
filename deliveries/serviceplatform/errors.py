"""The stand-in's refusal codes: one table, Danish and English, also printed in
docs/design/protocol.md (tests/test_docs.py keeps the two in step).

KOMBIT does not publish the real platform's codes; these are the stand-in's own, grouped by
what is wrong: 1xx the trigger file itself, 2xx the data file, 3xx who sends, 4xx routing,
5xx the recipients' folders, 9xx the stand-in.
"""

from __future__ import annotations

import enum


class PlatformError(enum.Enum):
    """A reason to refuse a trigger. `.code` goes into the receipt's ErrorCode."""

    TRIGGER_TOO_LARGE = (
        101,
        "Triggerfilen er for stor (over 1 MB).",
        "The trigger file is too large (over 1 MB).",
    )
    XML_MALFORMED = (
        102,
        "Triggerfilen er ikke velformet XML.",
        "The trigger file is not well-formed XML.",
    )
    XML_FORBIDDEN = (
        103,
        "Triggerfilen indeholder en DTD, entiteter eller processing instructions.",
        "The trigger file contains a DTD, entities or processing instructions.",
    )
    SCHEMA_INVALID = (
        104,
        "Triggerfilen følger ikke KOMBITs skema (SFTPTypes.xsd).",
        "The trigger file does not follow KOMBIT's schema (SFTPTypes.xsd).",
    )
    UNSAFE_FILE_NAME = (
        201,
        "Filnavnet er ikke sikkert: sti-tegn, kontroltegn eller over 255 tegn.",
        "The file name is unsafe: path separators, control characters or over 255 characters.",
    )
    DATA_FILE_MISSING = (
        202,
        "Datafilen findes ikke i OUT/. Upload datafilen før triggerfilen.",
        "The data file is not in OUT/. Upload the data file before the trigger file.",
    )
    SIZE_MISMATCH = (
        203,
        "Datafilens størrelse passer ikke med SizeInBytes i triggerfilen.",
        "The data file's size does not match SizeInBytes in the trigger file.",
    )
    RESERVED_FILE_NAME = (
        204,
        "Datafilens navn ender på .metadata, .sftpreceipt eller .trigger, som platformen "
        "bruger til sine egne filer.",
        "The data file's name ends in .metadata, .sftpreceipt or .trigger, which the platform "
        "uses for its own files.",
    )
    SENDER_MISMATCH = (
        301,
        "Sender i triggerfilen er ikke den indloggede SFTP-bruger.",
        "Sender in the trigger file is not the logged-in SFTP user.",
    )
    SENDER_SYSTEM_MISMATCH = (
        302,
        "SenderIt-system er ikke den indloggede SFTP-brugers it-system.",
        "SenderIt-system is not the logged-in SFTP user's IT-system.",
    )
    UNKNOWN_INFREF = (
        401,
        "InfRef er ukendt: intet dataområde har denne InfRef.",
        "Unknown InfRef: no data area has this InfRef.",
    )
    NO_ROUTE = (
        402,
        "Der er ingen etableret rute for InfRef, afsendersystem, afsender- og modtagermyndighed "
        "(og evt. modtagersystem).",
        "There is no established route for the InfRef, sender system, sender and recipient "
        "authority (and recipient system, if given).",
    )
    UNKNOWN_RECIPIENT = (
        403,
        "Modtagersystemet har ingen SFTP-bruger på denne Serviceplatform.",
        "The recipient system has no SFTP user on this Serviceplatform.",
    )
    RECIPIENTS_INVALID = (
        404,
        "Recipients passer ikke til triggerens type: rutebaseret kræver præcis ROUTING_V1_0_0, "
        "simpel overførsel kræver SFTP-brugernavne.",
        "Recipients does not fit the kind of trigger: route-based needs exactly ROUTING_V1_0_0, "
        "a simple transfer needs SFTP user names.",
    )
    NO_SIMPLE_ROUTE = (
        405,
        "Simpel overførsel til en SFTP-bruger, som ingen etableret rute fører til fra "
        "afsenderens it-system.",
        "A simple transfer to an SFTP user that no established route leads to from the "
        "sender's IT-system.",
    )
    NAME_CLASH = (
        501,
        "En fil med samme navn venter allerede i en modtagers IN/.",
        "A file of the same name is already waiting in a recipient's IN/.",
    )
    INTERNAL_ERROR = (
        901,
        "Stand-in'en kunne ikke behandle triggerfilen (intern fejl). Prøv igen.",
        "The stand-in could not process the trigger file (internal error). Try again.",
    )

    def __init__(self, code: int, danish: str, english: str) -> None:
        self.code = code
        self.danish = danish
        self.english = english

    @classmethod
    def by_code(cls, code: int) -> PlatformError:
        for error in cls:
            if error.code == code:
                return error
        raise KeyError(code)
