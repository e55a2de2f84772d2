"""Channel codes (渠道活码) made by the product: real contact ways with a ``state``, their images and figures."""
