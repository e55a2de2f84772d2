"""The guide's sidebar in the WeCom chat toolbar (聊天工具栏): who this customer is, what to say next.

- ``views``: the routes (``/sidebar/…``); parse, call one service, answer.
- ``session`` / ``oauth``: who the guide is (OAuth2 snsapi_base → a signed, short-lived cookie).
- ``jssdk``: ``wx.config`` / ``wx.agentConfig`` signatures from tickets cached in Redis.
- ``access``: may this guide see this customer or group (the page's ids are never trusted alone).
- ``card``: the customer card, one registered function per section (``@card_section``).
- ``actions``: one-tap writes (task done, lead, note, tag, script sent), each audited.
- ``library``: the script and material library (话术库 / 素材库) in ``config/sidebar.yaml``.
"""
