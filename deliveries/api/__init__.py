"""The HTTP API for vendor systems (and the inbox for consultants) under /api/v1/.

It sits on top like the pages: its views call the same access helpers (`deliveries.access`),
selectors and services (`delivery_upload`) as the delivery pages, so a delivery made through
the API is made exactly as one made through the form. Nothing below it imports it.
"""
