/* Stand-in for WeCom's JS-SDK (jweixin + jwxwork), served by the simulator: pages load it instead of
   the real SDK. Each call is played by the simulator (/_sim/bridge/*), which checks signatures
   against the tickets it issued and records what the guide sends. Old-style API: wx.config,
   wx.ready, wx.error, wx.agentConfig, wx.invoke(name, params, callback). */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script ? script.src.replace(/\/_sim\/jsbridge\.js.*$/, "") : "";
  var bridgeId = null, ready = false, failure = null, onReady = [], onError = [];
  function post(path, body) {
    body.bridge_id = bridgeId;
    return fetch(base + path, {method: "POST", headers: {"Content-Type": "text/plain"}, body: JSON.stringify(body)})
      .then(function (r) { return r.json(); })
      .then(function (r) { if (r.bridge_id) { bridgeId = r.bridge_id; } return r; });
  }
  function pageUrl() { return location.href.split("#")[0]; }
  var wx = {
    config: function (c) {
      ready = false; failure = null;
      post("/_sim/bridge/config", {kind: "config", url: pageUrl(), corpid: c.appId, timestamp: c.timestamp,
                                   nonceStr: c.nonceStr, signature: c.signature}).then(function (r) {
        if (r.ok) { ready = true; onReady.forEach(function (f) { f(); }); }
        else { failure = {errMsg: r.errMsg}; onError.forEach(function (f) { f(failure); }); }
      });
    },
    ready: function (f) { if (ready) { f(); } else { onReady.push(f); } },
    error: function (f) { if (failure) { f(failure); } else { onError.push(f); } },
    agentConfig: function (c) {
      post("/_sim/bridge/config", {kind: "agentConfig", url: pageUrl(), corpid: c.corpid, agentid: c.agentid,
                                   timestamp: c.timestamp, nonceStr: c.nonceStr, signature: c.signature})
        .then(function (r) {
          if (r.ok) { if (c.success) { c.success({errMsg: r.errMsg}); } }
          else if (c.fail) { c.fail({errMsg: r.errMsg}); }
        });
    },
    invoke: function (name, params, callback) {
      post("/_sim/bridge/invoke", {api: name, params: params || {}}).then(function (r) {
        if (callback) { callback(r); }
      });
    }
  };
  window.wx = window.jWeixin = wx;
})();
