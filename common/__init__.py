"""Code shared by every process of the platform: settings, errors, crypto, logging, edges."""
