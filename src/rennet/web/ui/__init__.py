"""The web UI: server-rendered pages for people (search, projects, uploads, accounts), usable without
JavaScript. Installers never come here: the Simple API and files are served by web/hotpaths.py and web/simple.py."""
