// Building DOM nodes without innerHTML: text from call records is never
// parsed as markup.

const svgNS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'style' && typeof v === 'object') {
      Object.assign(el.style, v);
    } else {
      el.setAttribute(k === 'className' ? 'class' : k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// h makes an HTML element: h('a', {href: '#/calls'}, 'Calls').
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// fill replaces the children of el, leaving out null, undefined and
// false as h does (replaceChildren would write them as text).
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// s makes an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(svgNS, tag), attrs, children);
}

// textWidth estimates the width of a line of text in pixels.
export function textWidth(text, px) {
  return String(text).length * px * 0.58;
}
