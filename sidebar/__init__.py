"""The guide's sidebar in the WeCom chat toolbar (聊天工具栏): who this customer is, what to say next.

- ``views``: the routes (``/sidebar/…``); parse, call one service, answer.
- ``session`` / ``oauth``: who the guide is (OAuth2 snsapi_base → a signed, short-lived cookie).
- ``jssdk``: ``wx.config`` / ``wx.agentConfig`` signatures from tickets cached in Redis.
- ``access``: may this guide see this customer or group (the page's ids are never trusted alone).
- ``service``: one function per request (views call it), access checked first.
- ``kinds``: the customer card, one registered function per section (``@card_section``), and the
  shipped sections; ``reads``: their plain-SQL reads.
- ``actions``: one-tap writes (task done, lead, note, tag, script sent), each audited.
- ``config``: the script and material library (话术库 / 素材库) and the page texts in
  ``config/sidebar.yaml``, reloaded with every config file (bot/reload.py: ``重载配置``, alias
  ``重载话术库``); ``materials``: the library's images and files, uploaded when first sent.
- ``report``: which scripts guides use and what followed; ``cli``: ``scrm sidebar report``;
  ``demo``: its chapter of ``scrm demo``.
"""

from bot.feature import Feature

FEATURE = Feature("sidebar", routes=("sidebar.views:setup_sidebar",),
                  card_sections=("sidebar.kinds", "sidebar.nextaction"))
