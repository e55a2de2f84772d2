"""The nearest-store page (门店活码): ``/s/<campaign>`` asks the visitor where they are and shows the code of
the nearest open store within the campaign's ``radius_km``, else the brand's default code.

Small and plain (no framework, no third-party script) so it opens fast in WeChat's in-app browser. The
page itself holds no store: it learns one store from ``/s/<campaign>/store`` (its name, address and code
image), and lists only the cities and districts a visitor who refuses their location may pick. Both are
rate-limited per address (a polite 429 page).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass

import orjson
import structlog
from aiohttp import web

from acquisition.config import ACQUISITION, Campaign
from bot.appkeys import DEPS
from bot.deps import Deps
from bot.ratelimit import SharedRateLimiter
from channels.models import ContactWay
from customers.config import ORG, StoreConf

__all__ = ["TEMPLATES", "StoreCode", "add_page_routes", "nearest_store"]

log = structlog.get_logger(__name__)

TEMPLATES = ("acquire_page_title", "acquire_page_locating", "acquire_page_choose", "acquire_page_city",
             "acquire_page_district", "acquire_page_go", "acquire_page_store", "acquire_page_default",
             "acquire_page_none", "acquire_page_busy", "acquire_page_unknown", "acquire_page_distance")
_EARTH_KM = 6371.0
_OPEN_KINDS = ("config", "store")


@dataclass(frozen=True, slots=True)
class StoreCode:
    """The one store a visitor is shown (or the brand's default: ``store`` empty)."""

    store: str
    name: str
    address: str
    qr_code: str
    distance_km: float | None = None


def _km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    dlat, dlng = math.radians(lat2 - lat1), math.radians(lng2 - lng1)
    a = math.sin(dlat / 2) ** 2 + math.cos(math.radians(lat1)) * math.cos(math.radians(lat2)) * math.sin(dlng / 2) ** 2
    return 2 * _EARTH_KM * math.asin(math.sqrt(a))


async def _open_codes() -> dict[str, str]:
    """Store code → the QR of its live store code (answered by its guides): the stores open to adds."""
    ways = await ContactWay.filter(deleted_at__isnull=True, config_id__not_isnull=True, kind__in=list(_OPEN_KINDS),
                                   channel__store_id__not_isnull=True, channel__guide_userid__isnull=True,
                                   channel__campaign="").prefetch_related("channel__store").order_by("kind", "id")
    codes: dict[str, str] = {}
    for way in ways:
        if way.qr_code and (way.users or way.parties) and way.channel.store is not None:
            codes.setdefault(way.channel.store.code, way.qr_code)
    return codes


async def _default_code(campaign: Campaign) -> StoreCode | None:
    if not campaign.default:
        return None
    way = await ContactWay.get_or_none(channel__state=campaign.default, deleted_at__isnull=True,
                                       config_id__not_isnull=True)
    return StoreCode("", "", "", way.qr_code) if way is not None and way.qr_code else None


async def nearest_store(
    stores: Mapping[str, StoreConf], campaign: Campaign, *, lat: float | None = None, lng: float | None = None,
    city: str = "", district: str = "",
) -> StoreCode | None:
    """The open store nearest to (lat, lng) within the radius, or the first open one of the chosen city and
    district; else the campaign's default code; None when there is none of these."""
    codes = await _open_codes()
    candidates = [s for s in stores.values() if s.code in codes]
    if lat is not None and lng is not None:
        placed = [(_km(lat, lng, s.lat, s.lng), s) for s in candidates if s.lat is not None and s.lng is not None]
        near = sorted((d, s.code, s) for d, s in placed if d <= campaign.radius_km)
        if near:
            distance, _, store = near[0]
            return StoreCode(store.code, store.name, store.address, codes[store.code], round(distance, 1))
    elif city:
        chosen = sorted((s.code, s) for s in candidates if s.city == city and (not district or s.district == district))
        if chosen:
            store = chosen[0][1]
            return StoreCode(store.code, store.name, store.address, codes[store.code])
    return await _default_code(campaign)


# --- the HTTP side -----------------------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,maximum-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font:16px/1.5 -apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#222;background:#f6f6f6}}
main{{max-width:420px;margin:0 auto;padding:24px 16px;text-align:center}}
h1{{font-size:20px;margin:8px 0 16px}} img{{width:240px;height:240px;background:#fff;padding:8px}}
select,button{{font-size:16px;margin:6px;padding:6px 10px}} .hidden{{display:none}} .sub{{color:#666;font-size:14px}}
</style></head>
<body><main>
<h1>{title}</h1>
<p id="status">{locating}</p>
<form id="choose" class="hidden"><p>{choose}</p>
<select id="city" name="city"><option value="">{city}</option></select>
<select id="district" name="district"><option value="">{district}</option></select>
<button type="submit">{go}</button></form>
<section id="result" class="hidden"><p id="store-name"></p><p id="store-address" class="sub"></p>
<img id="qr" alt=""><p id="distance" class="sub"></p></section>
</main>
<script>
(function(){{
var places={places};var base={base};
var status=document.getElementById("status"),form=document.getElementById("choose");
var city=document.getElementById("city"),district=document.getElementById("district");
Object.keys(places).forEach(function(c){{
  var o=document.createElement("option");o.value=c;o.textContent=c;city.appendChild(o);}});
city.onchange=function(){{district.length=1;(places[city.value]||[]).forEach(function(d){{
  var o=document.createElement("option");o.value=d;o.textContent=d;district.appendChild(o);}});}};
function show(answer){{
  if(!answer.qr){{status.textContent=answer.text;return;}}
  status.textContent=answer.text;
  document.getElementById("store-name").textContent=answer.name||"";
  document.getElementById("store-address").textContent=answer.address||"";
  document.getElementById("distance").textContent=answer.distance||"";
  document.getElementById("qr").src=answer.qr;
  document.getElementById("result").className="";form.className="hidden";
}}
function load(query){{
  var x=new XMLHttpRequest();x.open("GET",base+"/store?"+query);
  x.onload=function(){{try{{show(JSON.parse(x.responseText));}}catch(e){{status.textContent={busy};}}}};
  x.send();
}}
function refused(){{status.textContent="";form.className="";}}
form.onsubmit=function(e){{e.preventDefault();if(city.value)
  load("city="+encodeURIComponent(city.value)+"&district="+encodeURIComponent(district.value));}};
if(navigator.geolocation){{navigator.geolocation.getCurrentPosition(function(p){{
  load("lat="+p.coords.latitude+"&lng="+p.coords.longitude);}},refused,{{timeout:8000,maximumAge:600000}});}}
else{{refused();}}
}})();
</script></body></html>
"""


def _json_for_script(value: object) -> str:
    # Inside <script>: "<" escaped so no value can close the element.
    return orjson.dumps(value).decode().replace("<", "\\u003c")


def _message_page(deps: Deps, status: int, template: str, headers: Mapping[str, str] | None = None) -> web.Response:
    text = html.escape(deps.config.templates.render(template))
    body = (f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width,initial-scale=1"><title>{text}</title></head>'
            f'<body style="font:16px sans-serif;text-align:center;padding:48px 16px">{text}</body></html>')
    return web.Response(status=status, text=body, content_type="text/html", headers=headers)


async def _over_limit(request: web.Request, deps: Deps) -> float:
    """Seconds until this address may ask again (0: it may now)."""
    address = request.remote or "unknown"
    limiter = SharedRateLimiter(deps.redis, f"{{{deps.settings.scrm_redis_prefix}}}:acq:page:{address}",
                                deps.config[ACQUISITION].page_requests_per_minute, window_s=60)
    return await limiter.try_acquire()


def _campaign(request: web.Request, deps: Deps) -> Campaign | None:
    return deps.config[ACQUISITION].campaigns.get(request.match_info["campaign"])


async def _page(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    wait = await _over_limit(request, deps)
    if wait:
        return _message_page(deps, 429, "acquire_page_busy", {"Retry-After": str(math.ceil(wait))})
    campaign = _campaign(request, deps)
    if campaign is None:
        return _message_page(deps, 404, "acquire_page_unknown")
    templates = deps.config.templates
    places: dict[str, list[str]] = {}
    for store in deps.config[ORG].stores.values():
        if store.city:
            districts = places.setdefault(store.city, [])
            if store.district and store.district not in districts:
                districts.append(store.district)
    text = {name: html.escape(templates.render(f"acquire_page_{name}"))
            for name in ("locating", "choose", "city", "district", "go")}
    title = html.escape(campaign.title or templates.render("acquire_page_title"))
    body = _PAGE.format(title=title, places=_json_for_script(places),
                        base=_json_for_script(f"/s/{campaign.name}"),
                        busy=_json_for_script(templates.render("acquire_page_busy")), **text)
    return web.Response(text=body, content_type="text/html", headers={"Cache-Control": "no-store"})


def _coordinate(text: str, bound: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and -bound <= value <= bound else None


async def _store(request: web.Request) -> web.Response:
    deps = request.app[DEPS]
    templates = deps.config.templates
    wait = await _over_limit(request, deps)
    if wait:
        return web.json_response({"text": templates.render("acquire_page_busy")}, status=429,
                                 headers={"Retry-After": str(math.ceil(wait))})
    campaign = _campaign(request, deps)
    if campaign is None:
        return web.json_response({"text": templates.render("acquire_page_unknown")}, status=404)
    query = request.query
    lat, lng = _coordinate(query.get("lat", ""), 90), _coordinate(query.get("lng", ""), 180)
    found = await nearest_store(deps.config[ORG].stores, campaign, lat=lat, lng=lng,
                                city=query.get("city", "")[:32], district=query.get("district", "")[:32])
    if found is None:
        return web.json_response({"text": templates.render("acquire_page_none")})
    if not found.store:
        return web.json_response({"text": templates.render("acquire_page_default"), "qr": found.qr_code})
    log.info("nearest_store_shown", campaign=campaign.name, store=found.store, located=lat is not None)
    distance = (templates.render("acquire_page_distance", distance=f"{found.distance_km:g}")
                if found.distance_km is not None else "")
    return web.json_response({"text": templates.render("acquire_page_store", store_name=found.name),
                              "name": found.name, "address": found.address, "qr": found.qr_code,
                              "distance": distance})


def add_page_routes(app: web.Application) -> None:
    app.router.add_get("/s/{campaign}", _page)
    app.router.add_get("/s/{campaign}/store", _store)
