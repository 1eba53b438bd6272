/** XML answers in the EC2 namespace: lists become <item> elements, as EC2 writes them. */

export type XmlValue = string | number | boolean | null | undefined | XmlValue[] | { [k: string]: XmlValue };

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", "'": "&apos;", '"': "&quot;" })[c] ?? c);
}

export function element(tag: string, value: XmlValue): string {
  if (value === undefined || value === null) return "";
  if (Array.isArray(value)) return `<${tag}>${value.map((v) => element("item", v)).join("")}</${tag}>`;
  if (typeof value === "object") return `<${tag}>${body(value)}</${tag}>`;
  return `<${tag}>${escapeXml(String(value))}</${tag}>`;
}

function body(obj: { [k: string]: XmlValue }): string {
  return Object.entries(obj)
    .map(([k, v]) => element(k, v))
    .join("");
}

export function responseXml(action: string, requestId: string, payload: { [k: string]: XmlValue }): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${body(payload)}</${action}Response>`;
}

export function errorXml(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}
