"""The organisation from WeCom's address book: departments → stores, members → guides, kept in step."""
