import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flisportal.settings")
application = get_wsgi_application()

# Imports the views and compiles the templates before the first request instead of during it
# (flisportal/warmup.py); with gunicorn's --preload once for all workers.
from flisportal.warmup import warm_up  # noqa: E402 – needs the application set up first

warm_up()
