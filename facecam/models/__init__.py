"""Networks and their weight loaders. Nothing here loads a model at import time."""
