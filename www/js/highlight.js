// Highlighted renderers (tokens → spans, all as text): pretty-printed XML and
// JSON, and the code blocks they are shown in.
import { el } from './dom.js';
import { TIME_CLAIMS } from './protocol.js';
import { relativeText, utcText } from './time.js';

export class Out {
  constructor() {
    this.frag = document.createDocumentFragment();
  }
  put(text, cls) {
    if (!text) return;
    this.frag.append(cls ? el('span', { class: cls, text }) : document.createTextNode(text));
  }
}

function xmlEscapeText(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
function xmlEscapeAttr(s) {
  return xmlEscapeText(s).replace(/"/g, '&quot;');
}

/** Pretty-printed, highlighted XML (a DocumentFragment), or null when it does not parse. */
export function prettyXml(xmlText) {
  const doc = new DOMParser().parseFromString(xmlText.replace(/^\uFEFF/, ''), 'application/xml');
  if (doc.getElementsByTagName('parsererror').length) return null;
  const out = new Out();
  const decl = /^\s*<\?xml[^>]*\?>/.exec(xmlText.replace(/^\uFEFF/, ''));
  if (decl) out.put(`${decl[0].trim()}\n`, 't-punct');
  const walk = (node, depth) => {
    const indent = '  '.repeat(depth);
    switch (node.nodeType) {
      case Node.ELEMENT_NODE: {
        out.put(indent);
        out.put('<', 't-punct');
        out.put(node.nodeName, 't-tag');
        for (const attr of node.attributes) {
          out.put(' ');
          out.put(attr.name, 't-attr');
          out.put('="', 't-punct');
          out.put(xmlEscapeAttr(attr.value), 't-val');
          out.put('"', 't-punct');
        }
        const kids = [...node.childNodes].filter((c) => !(c.nodeType === Node.TEXT_NODE && !c.data.trim()));
        if (!kids.length) {
          out.put('/>\n', 't-punct');
          return;
        }
        out.put('>', 't-punct');
        const inline = kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE && kids[0].data.length <= 100 && !kids[0].data.includes('\n');
        if (inline) {
          out.put(xmlEscapeText(kids[0].data), 't-text');
        } else {
          out.put('\n');
          for (const kid of kids) walk(kid, depth + 1);
          out.put(indent);
        }
        out.put('</', 't-punct');
        out.put(node.nodeName, 't-tag');
        out.put('>\n', 't-punct');
        return;
      }
      case Node.TEXT_NODE:
        out.put(indent);
        out.put(xmlEscapeText(node.data.trim()), 't-text');
        out.put('\n');
        return;
      case Node.CDATA_SECTION_NODE:
        out.put(`${indent}<![CDATA[${node.data}]]>\n`, 't-comment');
        return;
      case Node.COMMENT_NODE:
        out.put(`${indent}<!--${node.data}-->\n`, 't-comment');
        return;
      case Node.PROCESSING_INSTRUCTION_NODE:
        out.put(`${indent}<?${node.target} ${node.data}?>\n`, 't-comment');
        return;
      default:
    }
  };
  for (const node of doc.childNodes) {
    if (node.nodeType === Node.DOCUMENT_TYPE_NODE) continue;
    walk(node, 0);
  }
  return out.frag;
}

/** Highlighted, indented JSON with readable times after NumericDate claims. */
export function prettyJson(value, now, { annotateTimes = false } = {}) {
  const out = new Out();
  const write = (v, depth, key) => {
    const indent = '  '.repeat(depth);
    if (Array.isArray(v)) {
      if (!v.length) return out.put('[]', 't-punct');
      out.put('[\n', 't-punct');
      v.forEach((item, i) => {
        out.put(`${indent}  `);
        write(item, depth + 1);
        out.put(i < v.length - 1 ? ',\n' : '\n', 't-punct');
      });
      out.put(`${indent}]`, 't-punct');
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      if (!entries.length) return out.put('{}', 't-punct');
      out.put('{\n', 't-punct');
      entries.forEach(([k, item], i) => {
        out.put(`${indent}  `);
        out.put(JSON.stringify(k), 't-key');
        out.put(': ', 't-punct');
        write(item, depth + 1, k);
        out.put(i < entries.length - 1 ? ',' : '', 't-punct');
        if (annotateTimes && depth === 0 && TIME_CLAIMS.has(k) && typeof item === 'number') {
          out.put(`  // ${utcText(item)} (${relativeText(item, now)})`, 't-comment');
        }
        out.put('\n');
      });
      out.put(`${indent}}`, 't-punct');
    } else if (typeof v === 'string') {
      out.put(JSON.stringify(v), 't-str');
    } else if (typeof v === 'number') {
      out.put(String(v), 't-num');
    } else {
      out.put(String(v), 't-lit');
    }
    return undefined;
  };
  write(value, 0);
  return out.frag;
}

export function codeBlock(content, label) {
  const pre = el('pre', { class: 'code-block', tabindex: '0', 'aria-label': label });
  pre.append(content);
  return pre;
}
