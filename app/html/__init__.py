"""HTML representation of the service (OGC API - Features ``html`` class) and sign-in for people.

``pages`` renders each page from the JSON document of the same resource; ``negotiation``
decides HTML or JSON and the language; ``session`` holds the sign-in cookie and CSRF tokens;
``i18n`` loads the EN/FR/PT catalogues. Kept import-light on purpose: ``app.api.deps`` uses
``session``.
"""
