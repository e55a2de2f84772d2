/* The guide's sidebar: sign the JS-SDK on the server, ask WeCom which chat this is, draw the card.
   No framework, no CDN; every text from the server goes in with textContent (never as HTML). */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var app = document.getElementById("app");
  var statusBox = document.getElementById("status");
  var current = {external_userid: "", chat_id: ""};
  var JS_APIS = ["getContext", "getCurExternalContact", "getCurExternalChat", "sendChatMessage"];

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; }
      else if (k === "on") { node.addEventListener("click", attrs[k]); }
      else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { if (c) { node.appendChild(c); } });
    return node;
  }
  function status(text, isError) {
    statusBox.hidden = false; statusBox.textContent = text; statusBox.className = isError ? "status err" : "status";
  }
  var toastTimer = null;
  function toast(text) {
    var t = document.getElementById("toast");
    t.textContent = text; t.hidden = false;
    clearTimeout(toastTimer); toastTimer = setTimeout(function () { t.hidden = true; }, 2500);
  }
  function api(method, path, body) {
    var opts = {method: method, credentials: "same-origin", headers: {}};
    if (body) { opts.headers["Content-Type"] = "application/json"; opts.headers["X-CSRF-Token"] = csrf; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {error: "服务暂时不可用"}; }).then(function (data) {
        if (r.status === 401) { data.relogin = true; }
        if (!r.ok) { var e = new Error(data.error || ("HTTP " + r.status)); e.data = data; throw e; }
        return data;
      });
    });
  }
  function invoke(name, params) {
    return new Promise(function (resolve) { wx.invoke(name, params || {}, resolve); });
  }
  function ok(res, name) { return res && (res.err_msg === name + ":ok" || res.errMsg === name + ":ok"); }

  /* --- JS-SDK: wx.config (corp ticket), then wx.agentConfig (app ticket); renew once if refused --- */
  var pending = null;
  function configure(renewKind, fp) {
    var url = location.href.split("#")[0];
    var q = "/sidebar/api/jssdk?url=" + encodeURIComponent(url) + (renewKind ? "&renew=" + renewKind + "&fp=" + fp : "");
    return api("GET", q).then(function (sig) {
      return new Promise(function (resolve, reject) {
        pending = {resolve: resolve, reject: reject, sig: sig};
        wx.config({beta: true, debug: false, appId: sig.config.appId, timestamp: sig.config.timestamp,
                   nonceStr: sig.config.nonceStr, signature: sig.config.signature, jsApiList: JS_APIS});
      });
    });
  }
  function onConfigReady() {
    var p = pending; if (!p) { return; }
    var a = p.sig.agentConfig;
    wx.agentConfig({corpid: a.corpid, agentid: a.agentid, timestamp: a.timestamp, nonceStr: a.nonceStr,
                    signature: a.signature, jsApiList: JS_APIS,
                    success: function () { p.resolve(); },
                    fail: function (res) { p.reject({kind: "agent_config", fp: a.ticket_fp, errMsg: res.errMsg}); }});
  }
  function onConfigError(res) {
    var p = pending; if (!p) { return; }
    p.reject({kind: "corp", fp: p.sig.config.ticket_fp, errMsg: res.errMsg});
  }
  function connect() {
    wx.ready(onConfigReady); wx.error(onConfigError);
    var renewed = {};
    function attempt(kind, fp) {
      return configure(kind, fp).catch(function (err) {
        /* A refused ticket (expired early at WeCom): ask the server to renew that kind, once each. */
        if (err && err.kind && !renewed[err.kind] && /invalid signature/.test(err.errMsg || "")) {
          renewed[err.kind] = true;
          return attempt(err.kind, err.fp);
        }
        throw err;
      });
    }
    return attempt();
  }

  /* --- the card --- */
  function section(title, extra, children) {
    return el("section", {"class": "card"}, [el("h2", {}, [el("span", {text: title}), extra ? el("small", {text: extra}) : null])].concat(children));
  }
  function sendButton(label, item) {
    var b = el("button", {"class": "b p", text: label});
    b.addEventListener("click", function () { sendItem(item, b); });
    return b;
  }
  function sendItem(item, button) {
    button.disabled = true;
    var target = current.chat_id ? {chat_id: current.chat_id} : {external_userid: current.external_userid};
    api("POST", "/sidebar/api/send", Object.assign({item: item}, target)).then(function (prep) {
      return invoke("sendChatMessage", prep.message).then(function (res) {
        var name = "sendChatMessage";
        var st = ok(res, name) ? "sent" : (/cancel/.test(res.err_msg || "") ? "cancelled" : null);
        if (st) { api("POST", "/sidebar/api/sent", {send_id: prep.send_id, status: st}); }
        toast(st === "sent" ? "已发送到聊天" : (st === "cancelled" ? "已取消" : "发送失败：" + (res.err_msg || "")));
      });
    }).catch(showError).then(function () { button.disabled = false; });
  }
  function act(action, body, doneText) {
    return api("POST", "/sidebar/api/action", Object.assign({external_userid: current.external_userid, action: action}, body))
      .then(function () { toast(doneText); return loadCard(current.external_userid); }).catch(showError);
  }
  function showError(err) {
    if (err && err.data && err.data.relogin) { status(err.message, true); app.hidden = true; return; }
    toast((err && err.message) || "出错了");
  }

  var RENDER = {
    tags: function (s) {
      var chips = s.tags.map(function (t) {
        var c = el("span", {"class": t.removable ? "chip own" : "chip", title: t.why, text: t.name});
        if (t.removable) { c.appendChild(el("button", {text: "×", "aria-label": "移除" + t.name, on: function () { act("tag_remove", {tag_id: t.tag_id}, "已移除标签"); }})); }
        return c;
      });
      var whys = s.tags.map(function (t) { return el("div", {"class": "why", text: t.group + "/" + t.name + "：" + t.why}); });
      var add = null;
      if (s.addable.length) {
        var sel = el("select", {"aria-label": "添加标签"}, [el("option", {value: "", text: "＋ 添加我的标签"})].concat(
          s.addable.map(function (t) { return el("option", {value: String(t.tag_id), text: t.name}); })));
        sel.addEventListener("change", function () { if (sel.value) { act("tag_add", {tag_id: Number(sel.value)}, "已添加标签"); } });
        add = el("div", {"class": "row"}, [sel]);
      }
      return [el("div", {}, chips.length ? chips : [el("span", {"class": "muted", text: "暂无标签"})])].concat(whys, [add]);
    },
    orders: function (s) {
      var kv = el("div", {"class": "kv"}, [
        el("span", {text: "累计 " + s.count + " 单"}), el("span", {text: "¥" + s.total}),
        el("span", {text: "客单 ¥" + s.average}), s.last_purchase ? el("span", {text: "最近 " + s.last_purchase}) : null,
        s.rfm ? el("b", {text: s.rfm}) : null]);
      var rows = s.last.map(function (o) { return el("tr", {}, [el("td", {text: o.paid_at}), el("td", {text: o.store}), el("td", {text: "¥" + o.amount})]); });
      return [kv, rows.length ? el("table", {}, rows) : el("div", {"class": "muted", text: "暂无订单"})];
    },
    leads: function (s) {
      if (!s.leads.length) { return [el("div", {"class": "muted", text: "暂无待跟进线索"})]; }
      return s.leads.map(function (l) {
        return el("div", {"class": "item"}, [el("div", {"class": "t", text: l.title + " · " + l.at}), el("div", {text: l.reason}),
          l.facts.length ? el("div", {"class": "muted", text: l.facts.join("；")}) : null,
          l.mine ? el("div", {"class": "row"}, [
            el("button", {"class": "b", text: "已联系", on: function () { act("lead", {lead_id: l.id, "do": "contacted"}, "已标记为已联系"); }}),
            el("button", {"class": "b", text: "不合适", on: function () { act("lead", {lead_id: l.id, "do": "dismiss"}, "已标记为不合适"); }})]) : null]);
      });
    },
    tasks: function (s) {
      if (!s.tasks.length) { return [el("div", {"class": "muted", text: "暂无待办"})]; }
      return s.tasks.map(function (t) {
        return el("div", {"class": "item", "data-task": String(t.id)}, [
          el("div", {"class": "t" + (t.overdue ? " over" : ""), text: t.reason + " · " + t.due}),
          t.text ? el("div", {"class": "text", text: t.text}) : null,
          t.mine ? el("div", {"class": "row"}, [t.text ? sendButton("发送建议话术", "task:" + t.id) : null,
            el("button", {"class": "b", text: "完成", on: function () { act("task_done", {task_id: t.id}, "任务已完成"); }})]) : null]);
      });
    },
    notes: function (s) {
      var box = el("textarea", {placeholder: "记录这次跟进…", maxlength: "500", "aria-label": "跟进记录"});
      var save = el("button", {"class": "b p", text: "保存记录", on: function () {
        if (box.value.trim()) { act("note", {text: box.value}, "已保存跟进记录"); } }});
      var meta = el("div", {"class": "muted", text: "最近聊天：" + (s.last_talk || "暂无") + "　最近记录：" + (s.last_note || "暂无")});
      var list = s.notes.map(function (n) { return el("div", {"class": "item"}, [el("div", {"class": "muted", text: n.at + " " + n.by}), el("div", {text: n.text})]); });
      return [meta].concat(list, [box, el("div", {"class": "row"}, [save])]);
    }
  };
  function generic(s) {  /* sections added by other features: {items: [{text, sub}]} */
    return (s.items || []).map(function (i) { return el("div", {"class": "item"}, [el("div", {text: i.text}), i.sub ? el("div", {"class": "muted", text: i.sub}) : null]); });
  }

  function avatar(c) {
    var letter = el("div", {"class": "avatar", text: (c.name || "客").slice(0, 1)});
    if (!c.avatar) { return letter; }
    var img = el("img", {src: c.avatar, alt: ""});
    img.addEventListener("error", function () { if (img.parentNode) { img.parentNode.replaceChild(letter, img); } });
    return img;
  }
  function header(c) {
    var title = c.remark ? c.remark + "（" + c.name + "）" : c.name;
    return el("section", {"class": "card"}, [el("div", {"class": "head"}, [
      avatar(c),
      el("div", {}, [el("div", {"class": "name", id: "customer-name", text: title}),
        el("div", {"class": "muted", text: "来源 " + c.channel + (c.store ? " · " + c.store : "")})])]),
      el("div", {"class": "kv"}, [el("span", {text: "添加于 " + c.added_at}), el("span", {text: "已加 " + c.contact_days + " 天"}),
        el("span", {text: "导购 " + c.guides.map(function (g) { return g.name + (g.state === "在联" ? "" : "(" + g.state + ")"); }).join("、")})])]);
  }

  function librarySection() {
    var input = el("input", {type: "search", placeholder: "搜索话术、素材", "aria-label": "搜索话术"});
    var list = el("div", {id: "library"});
    function load() {
      var q = "/sidebar/api/library?q=" + encodeURIComponent(input.value) + (current.external_userid ? "&external_userid=" + encodeURIComponent(current.external_userid) : "");
      api("GET", q).then(function (data) {
        list.textContent = "";
        data.items.forEach(function (i) {
          list.appendChild(el("div", {"class": "item", "data-item": i.id}, [el("div", {"class": "t", text: i.group + " · " + i.title}),
            el("div", {"class": i.kind === "text" ? "text" : "muted", text: i.preview}),
            el("div", {"class": "row"}, [sendButton("发送", i.id)])]));
        });
        if (!data.items.length) { list.appendChild(el("div", {"class": "muted", text: "没有找到"})); }
      }).catch(showError);
    }
    var timer = null;
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 250); });
    load();
    return section("话术库", null, [input, list]);
  }

  function loadCard(externalUserid) {
    current.external_userid = externalUserid;
    return api("GET", "/sidebar/api/card?external_userid=" + encodeURIComponent(externalUserid)).then(function (card) {
      app.textContent = "";
      app.appendChild(header(card.customer));
      card.sections.forEach(function (s) {
        var render = RENDER[s.id] || generic;
        var extra = s.id === "tasks" && s.tasks.length ? s.tasks.length + " 项" : null;
        app.appendChild(withId(section(s.title, extra, render(s)), s.id));
      });
      app.appendChild(librarySection());
      statusBox.hidden = true; app.hidden = false;
    });
  }
  function withId(node, id) { node.id = "section-" + id; return node; }

  function loadGroup(chatId) {
    current.chat_id = chatId;
    return api("GET", "/sidebar/api/group?chat_id=" + encodeURIComponent(chatId)).then(function (g) {
      app.textContent = "";
      app.appendChild(section(g.chat.name, g.chat.member_count + " 人", [el("div", {"class": "muted", text: "群主 " + g.chat.owner})]));
      app.appendChild(section("群内客户", g.customers.length + " 位", g.customers.map(function (c) {
        return el("div", {"class": "item"}, [el("span", {text: c.name}), el("span", {"class": "muted", text: "　" + c.orders + " 单"})]); })));
      app.appendChild(section("群内待办", null, g.tasks.length ? g.tasks.map(function (t) {
        return el("div", {"class": "item"}, [el("div", {"class": "t", text: t.customer + " · " + t.reason}), t.text ? el("div", {"class": "text", text: t.text}) : null]);
      }) : [el("div", {"class": "muted", text: "暂无待办"})]));
      app.appendChild(librarySection());
      statusBox.hidden = true; app.hidden = false;
    });
  }

  function start() {
    if (!window.wx) { status("请在企业微信中打开导购助手", true); return; }
    connect().then(function () { return invoke("getContext"); }).then(function (ctx) {
      if (!ok(ctx, "getContext")) { throw {errMsg: ctx.err_msg}; }
      if (ctx.entry === "group_chat_tools") {
        return invoke("getCurExternalChat").then(function (r) {
          if (!ok(r, "getCurExternalChat")) { throw {errMsg: r.err_msg}; }
          return loadGroup(r.chatId);
        });
      }
      return invoke("getCurExternalContact").then(function (r) {
        if (!ok(r, "getCurExternalContact")) { throw {errMsg: r.err_msg}; }
        return loadCard(r.userId);
      });
    }).catch(function (err) {
      if (err instanceof Error) { status(err.message, true); return; }
      var msg = (err && err.errMsg) || "";
      status(/invalid signature|reliable domain|invalid corpId/.test(msg) ? "企业微信未能验证页面签名（" + msg + "），请稍后重试或联系管理员。"
        : /without context/.test(msg) ? "请在与客户的聊天中打开导购助手。" : "无法连接企业微信：" + msg, true);
    });
  }
  start();
})();
