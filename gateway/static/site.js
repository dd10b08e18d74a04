/* Small enhancements for the server-rendered pages. Plain JavaScript, no libraries.
   - 换一张: a new image captcha without reloading the page
   - 获取短信验证码: asks the JSON API for a code, then counts down before the next one
   - 监护人须知: the agree checkbox unlocks after the minimum reading time
   - 录入详细信息: fields that apply only after some answer appear once it is chosen
   - 排队等候: the waiting page brings its ticket back on its own
   Every form also works as a plain HTML form posted to the server. */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(selector));
  }

  function postJson(url, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var meta = $('meta[name="csrf-token"]');
    if (meta) { headers["X-CSRF-Token"] = meta.getAttribute("content"); }
    return fetch(url, {
      method: "POST", credentials: "same-origin", headers: headers,
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  /* field messages ------------------------------------------------------------------- */
  function setError(name, message) {
    var slot = document.getElementById("f-" + name + "-err");
    var input = document.getElementById("f-" + name);
    if (!slot) { return false; }
    slot.textContent = message || "";
    slot.hidden = !message;
    var field = slot.closest(".field");
    if (field) { field.classList.toggle("has-error", !!message); }
    if (input) {
      if (message) { input.setAttribute("aria-invalid", "true"); }
      else { input.removeAttribute("aria-invalid"); }
    }
    return true;
  }

  function setStatus(message) {
    var status = document.getElementById("f-sms_code-status");
    if (status) { status.textContent = message || ""; }
  }

  /* image captcha ---------------------------------------------------------------------- */
  function refreshCaptcha(box) {
    return postJson("/api/v1/captchas", {}).then(function (result) {
      if (result.status !== 201) { throw new Error("captcha"); }
      $(".captcha-img", box).src = "data:image/png;base64," + result.data.image_png_base64;
      $('input[name="captcha_id"]', box).value = result.data.captcha_id;
      $('input[name="captcha_answer"]', box).value = "";
    });
  }

  $all("[data-captcha]").forEach(function (box) {
    var link = $(".captcha-refresh", box);
    link.addEventListener("click", function (event) {
      event.preventDefault();
      refreshCaptcha(box).then(function () {
        setError("captcha_answer", "");
        $('input[name="captcha_answer"]', box).focus();
      }, function () {
        window.location.href = link.href;  // the page itself always brings a fresh one
      });
    });
  });

  /* countdowns ------------------------------------------------------------------------- */
  function countdown(button, seconds, text, done) {
    var left = seconds;
    button.disabled = true;
    (function tick() {
      if (left <= 0) { done(); return; }
      button.textContent = text(left);
      left -= 1;
      window.setTimeout(tick, 1000);
    })();
  }

  /* SMS codes -------------------------------------------------------------------------- */
  $all("[data-sms]").forEach(function (button) {
    var form = button.form;
    var label = button.textContent;
    var captchaBox = $("[data-captcha]", form);
    var phoneField = button.getAttribute("data-phone");
    var refField = button.getAttribute("data-ref");
    // API field name -> the name of the form field the message belongs next to
    var targets = { captcha_answer: "captcha_answer", captcha_id: "captcha_answer",
                    sms_code: "sms_code" };
    if (phoneField) { targets.phone = phoneField; }
    if (refField) { targets.account_ref = refField; }

    function wait(seconds) {
      countdown(button, seconds, function (left) { return "重新获取（" + left + "秒）"; },
        function () { button.disabled = false; button.textContent = label; });
    }

    function showRefusal(data) {
      var shown = false;
      Object.keys(data.fields || {}).forEach(function (name) {
        if (targets[name] && setError(targets[name], data.fields[name])) { shown = true; }
      });
      if (!shown) { setError("sms_code", data.message || "获取验证码失败，请稍后再试。"); }
    }

    button.addEventListener("click", function () {
      var body = { purpose: button.getAttribute("data-purpose") };
      var missing = false;
      Object.keys(targets).forEach(function (name) { setError(targets[name], ""); });
      setStatus("");
      if (phoneField) {
        body.phone = form.elements[phoneField].value.trim();
        if (!body.phone) { setError(phoneField, "请先输入手机号码。"); missing = true; }
      }
      if (refField) {
        body.account_ref = form.elements[refField].value.trim();
        if (!body.account_ref) { setError(refField, "请先输入此项。"); missing = true; }
      }
      body.captcha_id = form.elements.captcha_id.value;
      body.captcha_answer = form.elements.captcha_answer.value.trim();
      if (!body.captcha_answer) { setError("captcha_answer", "请先输入图片验证码。"); missing = true; }
      if (missing) { return; }

      button.disabled = true;
      postJson("/api/v1/sms-codes", body).then(function (result) {
        var data = result.data || {};
        if (result.status === 201) {
          var minutes = Math.max(1, Math.round((parseInt(data.expires_in_s, 10) || 300) / 60));
          setStatus(button.getAttribute("data-sent").replace("{phone}", data.phone_masked)
            .replace("{minutes}", String(minutes)));
          wait(parseInt(data.cooldown_s, 10) || 180);
          $("#f-sms_code", form).focus();
        } else {
          showRefusal(data);
          var retry = parseInt(data.retry_after_s, 10);
          if (result.status === 429 && retry > 0) { wait(retry); }
          else { button.disabled = false; }
        }
        // the image captcha is spent by every request: show a new one
        if (captchaBox) { refreshCaptcha(captchaBox).catch(function () {}); }
      }, function () {
        button.disabled = false;
        setError("sms_code", "网络异常，请检查网络后重试。");
      });
    });
  });

  /* 监护人须知: minimum reading time ------------------------------------------------------ */
  $all("form[data-min-read]").forEach(function (form) {
    var agree = $('input[type="checkbox"]', form);
    var confirm = $('button[type="submit"]', form);
    var hint = $("#read-hint", form);
    var label = confirm.getAttribute("data-label") || confirm.textContent;
    var seconds = parseInt(form.getAttribute("data-min-read"), 10) || 0;

    function sync() { confirm.disabled = agree.disabled || !agree.checked; }
    agree.addEventListener("change", sync);
    agree.disabled = true;
    countdown(confirm, seconds, function (left) { return "请阅读须知（" + left + "秒）"; },
      function () {
        agree.disabled = false;
        confirm.textContent = label;
        if (hint) { hint.textContent = "请勾选“我已认真阅读并同意该条款”后点击“确认”。"; }
        sync();
      });
  });

  /* 排队等候: bring the ticket back when told (the answer is this page again, a little
     further on, until the family's turn comes) ------------------------------------------ */
  $all("form[data-waiting]").forEach(function (form) {
    var left = parseInt(form.getAttribute("data-waiting"), 10) || 1;
    var hint = $("#waiting-countdown", form);
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) {
        if (hint) { hint.textContent = "本页将在 " + left + " 秒后自动刷新排队位置。"; }
        return;
      }
      clearInterval(timer);
      if (hint) { hint.textContent = "正在刷新排队位置…"; }
      form.submit();
    }, 1000);
  });

  /* details: a field asked only after some answers ("name=v1,v2;name2=v3"), hidden until
     then (the server drops it anyway) ------------------------------------------------------ */
  $all("[data-when]").forEach(function (box) {
    var form = box.closest("form");
    var conditions = box.getAttribute("data-when").split(";").map(function (part) {
      var pair = part.split("=");
      return { name: pair[0], values: pair[1].split(",") };
    });
    function sync() {
      box.hidden = !conditions.every(function (condition) {
        var field = form.elements[condition.name];  // a select, or the radios' RadioNodeList
        return !!field && condition.values.indexOf(field.value) >= 0;
      });
    }
    form.addEventListener("change", sync);
    sync();
  });

  /* a refused form: bring its summary into view and let screen readers read it first ----- */
  var summary = document.getElementById("form-summary");
  if (summary) { summary.focus(); }

  /* 证件类型 “其他”: point to the special cases ---------------------------------------------- */
  var documentType = document.getElementById("f-document_type");
  var specialNote = document.getElementById("special-note");
  if (documentType && specialNote) {
    var syncNote = function () {
      specialNote.classList.toggle("is-active", documentType.value === "other");
    };
    documentType.addEventListener("change", syncNote);
    syncNote();
  }
})();
