// The upload component of templates/assets/_uploader.html: drop or pick files, pre-check each
// one against the media limits, send the good ones one request per file (two at a time), then
// follow each asset to a final state. The browser's verdict is advice for the person: the server
// checks every file again from its content. Without this script the form posts as it is.
(() => {
  "use strict";

  const KINDS = ["image", "video", "audio"];
  const TERMINAL = new Set(["active", "failed", "rejected", "deleted"]);
  const CONCURRENCY = 2; // phones on mobile networks do worse with more parallel uploads
  const POLL_MS = 2000;
  const LOAD_TIMEOUT_MS = 15000;
  // Browsers read durations from container headers; the server walks the packets. Near the limit
  // the two can differ by a frame, so the browser refuses only clear cases and leaves the rest.
  const DURATION_SLACK_S = 0.05;
  const RATIO_SLACK = 1e-9;

  const round1 = (x) => String(Math.round(x * 10) / 10);
  const round2 = (x) => String(Math.round(x * 100) / 100);
  const grouped = (n) => n.toLocaleString("en-US");

  function megabytes(bytes) {
    if (bytes >= 1e6) return `${round1(bytes / 1e6)} MB`;
    if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
    return `${bytes} B`;
  }

  function extensionOf(name) {
    const dot = name.lastIndexOf(".");
    return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
  }

  // Waits for a media element's metadata; resolves false on error or when it takes too long.
  function metadata(element, url) {
    return new Promise((resolve) => {
      const done = (ok) => { clearTimeout(timer); resolve(ok); };
      const timer = setTimeout(() => done(false), LOAD_TIMEOUT_MS);
      element.addEventListener("loadedmetadata", () => done(true), { once: true });
      element.addEventListener("error", () => done(false), { once: true });
      element.src = url;
    });
  }

  async function isAnimated(file) {
    if (!("ImageDecoder" in window) || !/^image\/(gif|png|apng|webp)$/.test(file.type)) return false;
    let decoder;
    try {
      decoder = new ImageDecoder({ data: file.stream(), type: file.type });
      await decoder.completed;
      return decoder.tracks.selectedTrack.frameCount > 1;
    } catch {
      return false; // the server decides
    } finally {
      if (decoder) decoder.close();
    }
  }

  // Builds the preview in `box` and returns what the browser could measure, or null.
  async function measure(file, kind, url, box, label) {
    if (kind === "image") {
      const img = new Image();
      img.alt = label;
      img.src = url;
      try { await img.decode(); } catch { return null; }
      box.append(img);
      return { width: img.naturalWidth, height: img.naturalHeight, animated: await isAnimated(file) };
    }
    const element = document.createElement(kind);
    if (kind === "video") {
      element.muted = true;
      element.playsInline = true;
      element.setAttribute("aria-label", label);
    } else {
      element.controls = true;
    }
    element.preload = "metadata";
    box.append(element);
    if (!(await metadata(element, url))) { element.remove(); return null; }
    const duration = Number.isFinite(element.duration) ? element.duration : null;
    if (kind === "audio") return duration === null ? null : { duration };
    // Seeking a little way in paints a first frame where a poster would be.
    element.currentTime = Math.min(0.1, (duration || 0) / 2);
    if (!element.videoWidth) return duration === null ? null : { duration, partial: true };
    return { width: element.videoWidth, height: element.videoHeight, duration };
  }

  function init(root) {
    const form = root.querySelector("form");
    const input = form.querySelector('input[type="file"]');
    const zone = root.querySelector("[data-drop]");
    const list = root.querySelector("[data-list]");
    const announcer = root.querySelector("[data-announce]");
    const csrf = form.querySelector('input[name="csrfmiddlewaretoken"]').value;
    const uploadUrl = form.getAttribute("action");
    const limits = JSON.parse(document.getElementById("media-limits").textContent);
    const allowed = limits.kinds_allowed || KINDS;
    for (const kind of KINDS) limits[kind] = limits[kind] || {};
    const words = {};
    for (const node of root.querySelector("template[data-text]").content.querySelectorAll("[data-key]")) {
      words[node.dataset.key] = node.textContent.trim();
    }
    const t = (key, values = {}) =>
      (words[key] || key).replace(/\{(\w+)\}/g, (match, name) => (name in values ? values[name] : match));
    const queue = [];
    let running = 0;
    let counter = 0;

    function kindOf(file) {
      const extension = extensionOf(file.name);
      return KINDS.find((kind) => (limits[kind].extensions || []).includes(extension))
        || KINDS.find((kind) => file.type && (limits[kind].mimes || []).includes(file.type))
        || null;
    }

    // The first limit the measured facts break, in words; null when none is broken.
    function problemWith(file, kind, facts) {
      const spec = limits[kind];
      if (file.size === 0) return t("empty");
      if (file.size > spec.max_bytes) {
        let size = megabytes(file.size), limit = megabytes(spec.max_bytes);
        if (size === limit) [size, limit] = [file.size, spec.max_bytes].map((n) => t("bytes", { count: grouped(n) }));
        return t(`size_${kind}`, { size, limit });
      }
      if (!facts) return null;
      const { width, height, duration } = facts;
      const shape = { kind: t(kind), width, height };
      if (width && height) {
        if (Math.min(width, height) < spec.min_side) return t("side_min", { ...shape, min: spec.min_side });
        if (Math.max(width, height) > spec.max_side) return t("side_max", { ...shape, max: spec.max_side });
        const ratio = width / height;
        if (ratio < spec.min_aspect - RATIO_SLACK || ratio > spec.max_aspect + RATIO_SLACK) {
          return t("aspect", { ...shape, ratio: round2(ratio), min: spec.min_aspect, max: spec.max_aspect });
        }
        const pixels = { ...shape, pixels: grouped(width * height) };
        if (spec.min_pixels && width * height < spec.min_pixels) return t("pixels_min", { ...pixels, min: grouped(spec.min_pixels) });
        if (spec.max_pixels && width * height > spec.max_pixels) return t("pixels_max", { ...pixels, max: grouped(spec.max_pixels) });
      }
      if (duration != null) {
        const seconds = { kind: t(kind), seconds: round1(duration) };
        if (spec.max_duration && duration > spec.max_duration + DURATION_SLACK_S) return t("too_long", { ...seconds, max: spec.max_duration });
        if (spec.min_duration && duration < spec.min_duration - DURATION_SLACK_S) return t("too_short", { ...seconds, min: spec.min_duration });
      }
      if (facts.animated && !spec.allow_animated) return t("animated");
      return null;
    }

    function describe(facts) {
      const parts = [];
      if (facts.width) parts.push(`${facts.width}×${facts.height} px`);
      if (facts.duration != null) parts.push(`${round1(facts.duration)} s`);
      return parts.join(", ");
    }

    function element(tag, className, text) {
      const node = document.createElement(tag);
      if (className) node.className = className;
      if (text != null) node.textContent = text;
      return node;
    }

    function button(label, className, onClick) {
      const node = element("button", className, label);
      node.type = "button";
      node.addEventListener("click", onClick);
      return node;
    }

    function buildCard(file) {
      const card = element("li", "upload-card");
      card.dataset.name = file.name;
      const box = element("div", "upload-preview");
      box.append(element("span", "upload-ext", extensionOf(file.name).toUpperCase() || "?"));
      const body = element("div", "upload-body");
      const head = element("div", "upload-head");
      const name = element("span", "upload-name", file.name);
      name.id = `upload-name-${(counter += 1)}`; // buttons are described by the name they act on
      head.append(name, element("span", "upload-size muted", megabytes(file.size)));
      const item = {
        file, card, box, statusUrl: null, timer: null, misses: 0, lastLabel: "",
        verdict: element("p", "verdict"),
        status: element("p", "upload-status"),
        progress: element("progress", "upload-progress"),
        problems: element("ul", "problems"),
        error: element("div", "upload-error"),
        result: element("div", "upload-result"),
        actions: element("div", "upload-actions"),
      };
      item.progress.max = 100;
      item.progress.hidden = true;
      item.retry = button(t("retry"), "retry", () => enqueue(item));
      item.dismiss = button(t("dismiss"), "dismiss link", () => dismiss(item));
      item.cancel = button(t("cancel"), "cancel link", () => cancel(item));
      item.actions.append(item.retry, item.cancel, item.dismiss);
      for (const control of [item.retry, item.cancel, item.dismiss]) control.setAttribute("aria-describedby", name.id);
      body.append(head, item.verdict, item.progress, item.status, item.problems, item.error, item.result, item.actions);
      card.append(box, body);
      list.append(card);
      setStatus(item, "checking", t("measuring"));
      return item;
    }

    // The page's own list of files (the staff group page's table) follows the cards: it is
    // fetched again when a card's server status changes, so both always show the server's state.
    let refreshTimer = null;
    function refreshFileList() {
      const table = document.getElementById("asset-list");
      if (!table || !window.htmx || !table.getAttribute("hx-get")) return;
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(() => {
        const current = document.getElementById("asset-list");
        if (current) window.htmx.ajax("GET", current.getAttribute("hx-get"), { target: current, swap: "outerHTML" });
      }, 250);
    }

    function setStatus(item, status, label) {
      item.card.dataset.status = status;
      item.status.textContent = label;
      item.retry.hidden = !["error", "cancelled"].includes(status);
      // Until its last byte is sent a file can be stopped; after that the server has it.
      item.cancel.hidden = !(status === "queued" || (status === "uploading" && !item.sent));
      // Only cards of files the upstream won't hold; dismissing an uploaded one would look like deleting it.
      item.dismiss.hidden = !["refused", "error", "rejected", "failed"].includes(status);
      if (label !== item.lastLabel) {
        item.lastLabel = label;
        announcer.textContent = `${item.file.name}: ${label}`;
      }
    }

    // Stops a file waiting or on its way; it is not sent, and can be sent again with Retry.
    function cancel(item) {
      const index = queue.indexOf(item);
      if (index >= 0) queue.splice(index, 1);
      item.cancelled = true;
      if (item.xhr) item.xhr.abort();
      forget(item);
      setStatus(item, "cancelled", t("cancelled"));
    }

    // The overall line for the files sent together: how many are through, and how far in bytes.
    const batch = new Map(); // item -> bytes sent so far
    const batchLine = root.querySelector("[data-batch]");
    function track(item, loaded) {
      batch.set(item, Math.min(loaded, item.file.size));
      showBatch();
    }
    function forget(item) {
      batch.delete(item);
      showBatch();
    }
    function showBatch() {
      if (!batchLine) return;
      const items = [...batch.keys()];
      if (items.length < 2 || items.every((item) => item.sent)) {
        batchLine.hidden = true;
        if (!running && !queue.length) batch.clear();
        return;
      }
      const total = items.reduce((sum, item) => sum + item.file.size, 0) || 1;
      const loaded = [...batch.values()].reduce((sum, bytes) => sum + bytes, 0);
      batchLine.hidden = false;
      batchLine.textContent = t("batch", {
        done: items.filter((item) => item.sent).length,
        total: items.length,
        percent: Math.floor((loaded / total) * 100),
      });
    }

    function dismiss(item) {
      clearTimeout(item.timer);
      const index = queue.indexOf(item);
      if (index >= 0) queue.splice(index, 1);
      if (item.url) URL.revokeObjectURL(item.url);
      item.card.remove();
      input.focus();
    }

    async function addFile(file) {
      const item = buildCard(file);
      const kind = kindOf(file);
      item.card.dataset.kind = kind || "";
      let problem = null, facts = null;
      if (!kind) {
        const formats = allowed.flatMap((k) => limits[k].extensions || []).map((e) => e.toUpperCase()).join(", ");
        problem = t("type", { formats });
      } else if (!allowed.includes(kind)) {
        problem = t(`consent_${kind}`);
      } else {
        item.url = URL.createObjectURL(file);
        facts = await measure(file, kind, item.url, item.box, t("preview_of", { name: file.name }));
        if (item.box.childElementCount > 1) item.box.firstChild.remove(); // the extension badge
        problem = problemWith(file, kind, facts);
      }
      if (problem) {
        item.verdict.textContent = problem;
        item.verdict.classList.add("bad");
        setStatus(item, "refused", t("not_sent"));
        return;
      }
      if (!facts || facts.partial) {
        item.verdict.textContent = t("no_preview");
        item.verdict.classList.add("unknown");
      } else {
        item.verdict.textContent = t("looks_right", { facts: describe(facts) });
        item.verdict.classList.add("ok");
      }
      if (item.card.isConnected) enqueue(item);
    }

    function enqueue(item) {
      item.error.replaceChildren();
      item.cancelled = false;
      item.sent = false;
      setStatus(item, "queued", t("queued"));
      queue.push(item);
      track(item, 0);
      pump();
    }

    function pump() {
      while (running < CONCURRENCY && queue.length) send(queue.shift());
    }

    function send(item) {
      running += 1;
      setStatus(item, "uploading", t("sending", { percent: 0 }));
      item.progress.hidden = false;
      item.progress.value = 0;
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      xhr.open("POST", uploadUrl);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-CSRFToken", csrf);
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.floor((event.loaded / event.total) * 100);
        item.progress.value = percent;
        item.status.textContent = t("sending", { percent });
        track(item, event.loaded);
      });
      xhr.upload.addEventListener("load", () => {
        item.progress.value = 100;
        item.sent = true;
        track(item, item.file.size);
        setStatus(item, "uploading", t("checking"));
      });
      xhr.addEventListener("load", () => answered(item, xhr.status, parse(xhr.responseText)));
      for (const name of ["error", "abort", "timeout"]) {
        xhr.addEventListener(name, () => { if (!item.cancelled) failed(item, t("interrupted"), true); });
      }
      xhr.addEventListener("loadend", () => {
        running -= 1;
        item.xhr = null;
        item.progress.hidden = true;
        showBatch();
        pump();
      });
      const body = new FormData();
      // The token goes as the X-CSRFToken header above: the server checks it before it reads the
      // body. In the body as well, first, as the plain form sends it.
      body.append("csrfmiddlewaretoken", csrf);
      // The form's other fields (the project, when several consents hold), also before the file.
      for (const field of form.querySelectorAll("select[name]")) body.append(field.name, field.value);
      body.append("files", item.file, item.file.name);
      xhr.send(body);
    }

    function parse(text) {
      try { return JSON.parse(text); } catch { return null; }
    }

    function answered(item, code, data) {
      const asset = data && Array.isArray(data.assets) ? data.assets[0] : null;
      if (asset && (code === 201 || code === 200 || code === 422)) {
        item.statusUrl = asset.status_url;
        show(item, asset);
        return;
      }
      const message = data && typeof data.error === "string" ? data.error : "";
      if (code >= 500 || code === 429) failed(item, message || t("server_problem", { code }), true);
      else if (code >= 400) failed(item, message || t("refused", { code }), false);
      else failed(item, t("unexpected", { code }), false);
    }

    function failed(item, message, retryable) {
      item.error.replaceChildren(element("p", "upload-error-message", message));
      setStatus(item, retryable ? "error" : "rejected", t(retryable ? "error_label" : "refused_label"));
    }

    // Shows an asset as the server describes it (upload answer or status answer) and keeps
    // following it until it settles.
    function show(item, asset) {
      if (asset.status !== item.card.dataset.status) refreshFileList();
      setStatus(item, asset.status, asset.status_label || asset.status);
      if (Array.isArray(asset.problems)) {
        item.problems.replaceChildren(...asset.problems.map((problem) =>
          element("li", `problem ${problem.severity === "warning" ? "warning" : "error"}`, problem.message)));
      }
      if (asset.error && asset.error.message) {
        const parts = [element("p", "upload-error-message", asset.error.message)];
        if (asset.error.fix) parts.push(element("p", "fix", asset.error.fix));
        item.error.replaceChildren(...parts);
      }
      if (asset.asset_uri && !item.result.childElementCount) {
        const copy = button(t("copy"), "copy");
        copy.dataset.copy = asset.asset_uri; // static/js/sitter.js copies any [data-copy]
        copy.setAttribute("aria-describedby", item.card.querySelector(".upload-name").id);
        item.result.append(element("code", "asset-uri", asset.asset_uri), copy);
      }
      const terminal = asset.terminal === true || TERMINAL.has(asset.status);
      if (!terminal && item.statusUrl) {
        clearTimeout(item.timer);
        item.timer = setTimeout(() => poll(item), POLL_MS);
      }
    }

    async function poll(item) {
      let response = null;
      try {
        response = await fetch(item.statusUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      } catch {
        // a dropped connection: keep trying
      }
      if (!item.card.isConnected) return;
      const data = response && response.ok ? parse(await response.text()) : null;
      if (data && data.status) {
        item.misses = 0;
        show(item, data);
        return;
      }
      if (response && response.status >= 400 && response.status < 500) {
        item.error.replaceChildren(element("p", "upload-error-message", t(response.status === 404 ? "gone" : "unexpected", { code: response.status })));
        return;
      }
      item.misses += 1;
      if (item.misses === 3) item.status.textContent = t("lost");
      item.timer = setTimeout(() => poll(item), POLL_MS * Math.min(item.misses, 5));
    }

    function addFiles(files) {
      for (const file of files) addFile(file);
    }

    // Enhanced: files go as soon as they are chosen or dropped, so the submit button goes away.
    // Several may be chosen at once: each still goes on a request of its own.
    input.multiple = true;
    root.classList.add("is-enhanced");
    root.querySelector("[data-hint]").hidden = false;
    input.addEventListener("change", () => {
      addFiles(Array.from(input.files));
      input.value = ""; // choosing the same file again is a new upload
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      addFiles(Array.from(input.files));
      input.value = "";
    });

    const carriesFiles = (event) => event.dataTransfer && Array.from(event.dataTransfer.types).includes("Files");
    // Files dropped next to the zone would otherwise replace the page, and the uploads with it.
    for (const type of ["dragenter", "dragover"]) {
      window.addEventListener(type, (event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        const inside = zone.contains(event.target);
        event.dataTransfer.dropEffect = inside ? "copy" : "none";
        zone.classList.toggle("is-dragging", inside);
      });
    }
    zone.addEventListener("dragleave", (event) => {
      if (!zone.contains(event.relatedTarget)) zone.classList.remove("is-dragging");
    });
    window.addEventListener("drop", (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      zone.classList.remove("is-dragging");
      if (zone.contains(event.target)) addFiles(Array.from(event.dataTransfer.files));
    });
    window.addEventListener("beforeunload", (event) => {
      if (running || queue.length) event.preventDefault();
    });
  }

  document.querySelectorAll("[data-uploader]").forEach(init);
})();
