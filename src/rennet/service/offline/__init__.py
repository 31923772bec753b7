"""The offline tools: mirror, export, import (into a hosted index or a proxy's cache) and refresh."""
