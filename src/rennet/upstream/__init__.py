"""The upstream edge: talking to other simple indexes over HTTP and reading what they send."""
