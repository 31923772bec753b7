"""The services: what each kind of index does with a request, between the web edge and storage/upstream."""
