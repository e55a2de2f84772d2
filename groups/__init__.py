"""Customer groups (客户群): group codes that never fill up, group welcome, group SOP and figures."""
