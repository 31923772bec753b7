"""The web edge: the ASGI application that speaks the Simple API, serves files and logs every request."""
