"""advisor: can I run model X on GPU Y, and if not, what exactly should I do instead?"""

__version__ = "0.1.0"
