// Offline API reference: lists the operations and parameters of /openapi.json.
"use strict";

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text.replace(/`+/g, "");  // Markdown code marks
  if (cls) node.className = cls;
  return node;
}

function typeOf(schema, spec) {
  if (!schema) return "";
  if (schema.$ref) return typeOf(spec.components.schemas[schema.$ref.split("/").pop()], spec);
  if (schema.enum) return schema.enum.join(" | ");
  if (schema.anyOf) return schema.anyOf.map((s) => typeOf(s, spec)).join(" or ");
  if (schema.format === "binary" || schema.contentMediaType) return "file";
  return schema.type || "";
}

function parameters(op, spec) {
  const rows = (op.parameters || []).map((p) => [p.name, p.in, typeOf(p.schema, spec), p.required, p.description || ""]);
  const body = op.requestBody && op.requestBody.content;
  if (body) {
    const media = Object.keys(body)[0];
    let schema = body[media].schema;
    if (schema.$ref) schema = spec.components.schemas[schema.$ref.split("/").pop()];
    for (const [name, prop] of Object.entries(schema.properties || {})) {
      rows.push([name, "form", typeOf(prop, spec), (schema.required || []).includes(name), prop.description || ""]);
    }
  }
  return rows;
}

async function main() {
  const root = document.getElementById("docs");
  const spec = await (await fetch("/openapi.json")).json();
  root.replaceChildren(el("p", spec.info.description));
  for (const [path, ops] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const box = el("section", undefined, "op");
      const head = el("h2");
      head.append(el("span", method.toUpperCase(), "method"), document.createTextNode(path));
      box.append(head, el("p", op.summary || ""), el("p", op.description || "", "muted small"));
      const rows = parameters(op, spec);
      if (rows.length) {
        const table = el("table");
        const header = el("tr");
        for (const h of ["name", "in", "type", "required", "about"]) header.append(el("th", h));
        table.append(header);
        for (const [name, where, type, required, about] of rows) {
          const tr = el("tr");
          const code = el("td");
          code.append(el("code", name));
          tr.append(code, el("td", where), el("td", type), el("td", required ? "yes" : ""), el("td", about));
          table.append(tr);
        }
        const scroll = el("div", undefined, "table-scroll");  // narrow screens scroll the table, not the page
        scroll.tabIndex = 0;  // a keyboard can scroll it too
        scroll.setAttribute("role", "region");
        scroll.setAttribute("aria-label", `Parameters of ${method.toUpperCase()} ${path}`);
        scroll.append(table);
        box.append(scroll);
      }
      root.append(box);
    }
  }
}
main();
