"""`python -m tests.helpers.standin_paused serviceplatform <options>`: the stand-in of
`manage.py serviceplatform`, except that a distribution stops for good once the first recipient
has its data file and metadata file — so that a test can kill the real process at that moment.

The pause lives here, not in the stand-in: production code carries no test hook. Writes the
path of the metadata file it stopped after to $STANDIN_PAUSED_MARKER.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flisportal.settings")
    import django

    django.setup()
    from django.core.management import execute_from_command_line

    from deliveries import protocol
    from deliveries.serviceplatform import routing

    marker = Path(os.environ["STANDIN_PAUSED_MARKER"])
    place = routing._place

    def place_then_pause(target: Path, **kwargs: Any) -> None:
        place(target, **kwargs)
        if target.name.endswith(protocol.METADATA_SUFFIX):
            marker.write_text(str(target))
            time.sleep(3600)  # until killed

    routing._place = place_then_pause  # type: ignore[assignment]
    execute_from_command_line([sys.argv[0], *sys.argv[1:]])


if __name__ == "__main__":
    main()
