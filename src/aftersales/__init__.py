"""aftersales: the after-sales (售后) desk of an online merchant."""

__version__ = "0.1.0"
