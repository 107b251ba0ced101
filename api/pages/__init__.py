"""HTML pages, one package per audience; ``web_session`` holds their shared plumbing."""
