/* The guide's sidebar: sign the JS-SDK on the server, ask WeCom which chat this is, draw the card.
   No framework, no CDN; every text from the server goes in with textContent (never as HTML). */
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  /* The page's words come from config/sidebar.yaml (labels:), put in the page by the server. */
  var LABELS = JSON.parse(document.querySelector('meta[name="sidebar-labels"]').content);
  function t(key, values) {
    return (LABELS[key] || key).replace(/\{(\w+)\}/g, function (m, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }
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
    var box = document.getElementById("toast");
    box.textContent = text; box.hidden = false;
    clearTimeout(toastTimer); toastTimer = setTimeout(function () { box.hidden = true; }, 2500);
  }
  function api(method, path, body) {
    var opts = {method: method, credentials: "same-origin", headers: {}};
    if (body) { opts.headers["Content-Type"] = "application/json"; opts.headers["X-CSRF-Token"] = csrf; opts.body = JSON.stringify(body); }
    return fetch(path, opts).then(function (r) {
      return r.json().catch(function () { return {error: t("unavailable")}; }).then(function (data) {
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
        toast(st === "sent" ? t("sent") : (st === "cancelled" ? t("cancelled") : t("send_failed", {reason: res.err_msg || ""})));
      });
    }).catch(showError).then(function () { button.disabled = false; });
  }
  function act(action, body, doneText) {
    return api("POST", "/sidebar/api/action", Object.assign({external_userid: current.external_userid, action: action}, body))
      .then(function () { toast(doneText); return loadCard(current.external_userid); }).catch(showError);
  }
  function showError(err) {
    if (err && err.data && err.data.relogin) { status(err.message, true); app.hidden = true; return; }
    toast((err && err.message) || t("error"));
  }

  var RENDER = {
    next: function (s) {  /* the next best action: one line, its suggested text, one tap to send */
      var a = s.action;
      return [el("div", {"class": "t", id: "next-action", text: a.title}),
        a.text ? el("div", {"class": "text", text: a.text}) : null,
        a.send_item ? el("div", {"class": "row"}, [sendButton(t("next_send"), a.send_item)]) : null];
    },
    tags: function (s) {
      var chips = s.tags.map(function (tag) {
        var c = el("span", {"class": tag.removable ? "chip own" : "chip", title: tag.why, text: tag.name});
        if (tag.removable) { c.appendChild(el("button", {text: "×", "aria-label": t("tag_remove", {tag: tag.name}), on: function () { act("tag_remove", {tag_id: tag.tag_id}, t("tag_removed")); }})); }
        return c;
      });
      var whys = s.tags.map(function (tag) { return el("div", {"class": "why", text: tag.group + "/" + tag.name + "：" + tag.why}); });
      var add = null;
      if (s.addable.length) {
        var sel = el("select", {"aria-label": t("tag_add")}, [el("option", {value: "", text: t("tag_add_option")})].concat(
          s.addable.map(function (tag) { return el("option", {value: String(tag.tag_id), text: tag.name}); })));
        sel.addEventListener("change", function () { if (sel.value) { act("tag_add", {tag_id: Number(sel.value)}, t("tag_added")); } });
        add = el("div", {"class": "row"}, [sel]);
      }
      var folded = whys.length ? el("details", {}, [el("summary", {"class": "muted", text: t("tags_why")})].concat(whys)) : null;
      return [el("div", {}, chips.length ? chips : [el("span", {"class": "muted", text: t("tags_none")})]), folded, add];
    },
    orders: function (s) {
      var kv = el("div", {"class": "kv"}, [
        el("span", {text: t("orders_count", {count: s.count})}), el("span", {text: "¥" + s.total}),
        el("span", {text: t("orders_average", {average: s.average})}),
        s.last_purchase ? el("span", {text: t("orders_last", {when: s.last_purchase})}) : null,
        s.rfm ? el("b", {text: s.rfm}) : null]);
      var rows = s.last.map(function (o) { return el("tr", {}, [el("td", {text: o.paid_at}), el("td", {text: o.store}), el("td", {text: "¥" + o.amount})]); });
      return [kv, rows.length ? el("table", {}, rows) : el("div", {"class": "muted", text: t("orders_none")})];
    },
    leads: function (s) {
      if (!s.leads.length) { return [el("div", {"class": "muted", text: t("leads_none")})]; }
      return s.leads.map(function (l) {
        return el("div", {"class": "item"}, [el("div", {"class": "t", text: l.title + " · " + l.at}), el("div", {text: l.reason}),
          l.facts.length ? el("div", {"class": "muted", text: l.facts.join("；")}) : null,
          l.mine ? el("div", {"class": "row"}, [
            el("button", {"class": "b", text: t("lead_contacted"), on: function () { act("lead", {lead_id: l.id, "do": "contacted"}, t("lead_contacted_done")); }}),
            el("button", {"class": "b", text: t("lead_dismiss"), on: function () { act("lead", {lead_id: l.id, "do": "dismiss"}, t("lead_dismiss_done")); }})]) : null]);
      });
    },
    tasks: function (s) {
      if (!s.tasks.length) { return [el("div", {"class": "muted", text: t("tasks_none")})]; }
      return s.tasks.map(function (task) {
        return el("div", {"class": "item", "data-task": String(task.id)}, [
          el("div", {"class": "t" + (task.overdue ? " over" : ""), text: task.reason + " · " + task.due}),
          task.text ? el("div", {"class": "text", text: task.text}) : null,
          task.mine ? el("div", {"class": "row"}, [task.text ? sendButton(t("task_send"), "task:" + task.id) : null,
            el("button", {"class": "b", text: t("task_done"), on: function () { act("task_done", {task_id: task.id}, t("task_done_done")); }})]) : null]);
      });
    },
    notes: function (s) {
      var box = el("textarea", {placeholder: t("note_placeholder"), maxlength: "500", "aria-label": t("note_label")});
      var save = el("button", {"class": "b p", text: t("note_save"), on: function () {
        if (box.value.trim()) { act("note", {text: box.value}, t("note_saved")); } }});
      var meta = el("div", {"class": "muted", text: t("notes_meta", {talk: s.last_talk || t("none"), note: s.last_note || t("none")})});
      var list = s.notes.map(function (n) { return el("div", {"class": "item"}, [el("div", {"class": "muted", text: n.at + " " + n.by}), el("div", {text: n.text})]); });
      return [meta].concat(list, [box, el("div", {"class": "row"}, [save])]);
    }
  };
  function generic(s) {  /* sections added by other features: {items: [{text, sub, reveal?}]} */
    return (s.items || []).map(function (i) {
      var sub = i.sub ? el("div", {"class": "muted", text: i.sub}) : null;
      var item = el("div", {"class": "item"}, [el("div", {text: i.text}), sub]);
      if (i.reveal && sub) {  /* a tap asks the server for more (e.g. a member's full phone): {text} */
        item.onclick = function () { api("GET", i.reveal).then(function (r) { sub.textContent = r.text; }, function (e) { toast(e.message); }); };
      }
      return item;
    });
  }

  function avatar(c) {
    var letter = el("div", {"class": "avatar", text: (c.name || t("avatar_letter")).slice(0, 1)});
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
        el("div", {"class": "muted", text: t("header_channel", {channel: c.channel}) + (c.store ? " · " + c.store : "")})])]),
      el("div", {"class": "kv"}, [el("span", {text: t("header_added", {when: c.added_at})}),
        el("span", {text: t("header_days", {days: c.contact_days})}),
        el("span", {text: t("header_guides", {guides: c.guides.map(function (g) { return g.name + (g.active ? "" : "(" + g.state + ")"); }).join("、")})})])]);
  }

  function librarySection() {
    var input = el("input", {type: "search", placeholder: t("library_search"), "aria-label": t("library_search_label")});
    var list = el("div", {id: "library"});
    function load() {
      var q = "/sidebar/api/library?q=" + encodeURIComponent(input.value) + (current.external_userid ? "&external_userid=" + encodeURIComponent(current.external_userid) : "");
      api("GET", q).then(function (data) {
        list.textContent = "";
        data.items.forEach(function (i) {
          list.appendChild(el("div", {"class": "item", "data-item": i.id}, [el("div", {"class": "t", text: i.group + " · " + i.title}),
            el("div", {"class": i.kind === "text" ? "text" : "muted", text: i.preview}),
            el("div", {"class": "row"}, [sendButton(t("send"), i.id)])]));
        });
        if (!data.items.length) { list.appendChild(el("div", {"class": "muted", text: t("library_none")})); }
      }).catch(showError);
    }
    var timer = null;
    input.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(load, 250); });
    load();
    return section(t("library_title"), null, [input, list]);
  }

  function loadCard(externalUserid) {
    current.external_userid = externalUserid;
    return api("GET", "/sidebar/api/card?external_userid=" + encodeURIComponent(externalUserid)).then(function (card) {
      app.textContent = "";
      var head = header(card.customer);
      app.appendChild(head);
      card.sections.forEach(function (s) {
        var render = RENDER[s.id] || generic;
        var extra = s.id === "tasks" && s.tasks.length ? t("tasks_count", {count: s.tasks.length}) : null;
        var node = withId(section(s.title, extra, render(s)), s.id);
        if (s.id === "next") { node.className += " next"; app.insertBefore(node, head); } else { app.appendChild(node); }
      });
      app.appendChild(librarySection());
      statusBox.hidden = true; app.hidden = false;
    });
  }
  function withId(node, id) { node.id = "section-" + id; return node; }

  function groupCodeSection(info, chatId) {
    var size = t("group_code_size", {count: info.members, full: info.full_at});
    var code = info.code ? el("div", {"class": "item"}, [el("span", {text: info.code.name}), el("span", {"class": "muted", text: size})])
      : el("div", {"class": "muted", text: t("group_code_none")});
    var steps = info.steps.map(function (step) {
      var b = el("button", {"class": "b p", text: t("group_step_send")});
      b.addEventListener("click", function () { sendStep(step, chatId, b); });
      return el("div", {"class": "item"}, [el("div", {"class": "text", text: step.text}), b]);
    });
    return section(t("group_code"), null, [code].concat(steps.length ? [el("h3", {text: t("group_steps")})].concat(steps) : []));
  }
  function sendStep(step, chatId, button) {
    button.disabled = true;
    invoke("sendChatMessage", {msgtype: "text", enterChat: false, text: {content: step.text}}).then(function (res) {
      if (!ok(res, "sendChatMessage")) { throw {errMsg: res.err_msg}; }
      return api("POST", "/sidebar/api/group_step_sent", {step_id: step.id, chat_id: chatId}).then(function () {
        toast(t("sent")); return loadGroup(chatId);
      });
    }).catch(showError).then(function () { button.disabled = false; });
  }

  function loadGroup(chatId) {
    current.chat_id = chatId;
    return api("GET", "/sidebar/api/group?chat_id=" + encodeURIComponent(chatId)).then(function (g) {
      app.textContent = "";
      app.appendChild(section(g.chat.name, t("group_members", {count: g.chat.member_count}), [el("div", {"class": "muted", text: t("group_owner", {owner: g.chat.owner})})]));
      app.appendChild(section(t("group_customers"), t("group_customers_count", {count: g.customers.length}), g.customers.map(function (c) {
        return el("div", {"class": "item"}, [el("span", {text: c.name}), el("span", {"class": "muted", text: t("group_customer_orders", {count: c.orders})})]); })));
      if (g.group) { app.appendChild(groupCodeSection(g.group, chatId)); }
      app.appendChild(section(t("group_tasks"), null, g.tasks.length ? g.tasks.map(function (task) {
        return el("div", {"class": "item"}, [el("div", {"class": "t", text: task.customer + " · " + task.reason}), task.text ? el("div", {"class": "text", text: task.text}) : null]);
      }) : [el("div", {"class": "muted", text: t("tasks_none")})]));
      app.appendChild(librarySection());
      statusBox.hidden = true; app.hidden = false;
    });
  }

  function start() {
    if (!window.wx) { status(t("open_in_wecom"), true); return; }
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
      status(/invalid signature|reliable domain|invalid corpId/.test(msg) ? t("wecom_signature_failed", {reason: msg})
        : /without context/.test(msg) ? t("open_in_chat") : t("wecom_unreachable", {reason: msg}), true);
    });
  }
  start();
})();
