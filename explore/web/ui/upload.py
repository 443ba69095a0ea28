"""An upload button that streams files straight to the REST API (``PUT /api/v1/files/...``) with a
progress bar: no file passes through the page's websocket or sits whole in server memory."""

from __future__ import annotations

import param
from panel.custom import JSComponent


class Uploader(JSComponent):
    """Uploads the chosen files into ``folder``; ``completed`` counts finished batches and ``errors``
    carries the server's messages (over quota, bad name...) for the page to show."""

    folder = param.String(default="")
    completed = param.Integer(default=0)
    errors = param.List(default=[])
    uploaded = param.List(default=[])

    _esm = """
function csrf() {
  const m = document.cookie.match(/(?:^|; )explore_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : "";
}
function encodePath(p) { return p.split("/").map(encodeURIComponent).join("/"); }

export function render({ model, el }) {
  el.innerHTML = `
    <div style="display:flex;align-items:center;gap:12px;font-family:Roboto,Helvetica,Arial,sans-serif">
      <label class="explore-upload" style="background:#3f51b5;color:#fff;padding:7px 16px;border-radius:4px;
             cursor:pointer;font-size:14px;font-weight:500;letter-spacing:.03em;text-transform:uppercase">
        Upload files<input type="file" multiple style="display:none" aria-label="Upload files">
      </label>
      <progress max="100" value="0" style="width:220px;visibility:hidden"></progress>
      <span class="explore-upload-status" style="font-size:13px"></span>
    </div>`;
  const input = el.querySelector("input");
  const bar = el.querySelector("progress");
  const status = el.querySelector(".explore-upload-status");
  function put(file, index, count) {
    return new Promise((resolve) => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", "/api/v1/files/" + encodePath(model.folder + "/" + file.name));
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) {
          bar.value = 100 * (index + e.loaded / e.total) / count;
        }
      };
      xhr.onload = () => {
        if (xhr.status >= 200 && xhr.status < 300) { resolve({ok: true, name: file.name}); return; }
        let message = xhr.statusText;
        try { message = JSON.parse(xhr.responseText).message; } catch (e) {}
        resolve({ok: false, name: file.name, message: message});
      };
      xhr.onerror = () => resolve({ok: false, name: file.name, message: "the connection failed"});
      xhr.send(file);
    });
  }
  input.addEventListener("change", async () => {
    const files = Array.from(input.files);
    if (!files.length) { return; }
    bar.style.visibility = "visible";
    bar.value = 0;
    const errors = [], done = [];
    for (let i = 0; i < files.length; i++) {
      status.textContent = `uploading ${files[i].name} (${i + 1} of ${files.length})`;
      const result = await put(files[i], i, files.length);
      if (result.ok) { done.push(result.name); } else { errors.push(`${result.name}: ${result.message}`); }
    }
    bar.value = 100;
    status.textContent = errors.length ? `${done.length} uploaded, ${errors.length} failed`
                                       : `${done.length} file(s) uploaded`;
    input.value = "";
    model.errors = errors;
    model.uploaded = done;
    model.completed = model.completed + 1;
  });
}
"""
