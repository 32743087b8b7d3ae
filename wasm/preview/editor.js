// A plain textarea with line numbers and one highlighted line.
//
// Why not a code editor library: the page must work offline from a static folder with no build
// step, and authors need only typing, line numbers and "this line is wrong". Lines never wrap
// (wrap="off"), so line N is always at N × line-height and the highlight can be placed exactly.

const LINE_HEIGHT = 20; // px, the same as --code-line in preview.css
const PADDING = 8; // px, the textarea's top padding

/**
 * Builds an editor inside `slot`.
 * @param {HTMLElement} slot
 * @param {{id: string, label: string, onInput: (value: string) => void}} options
 */
export function createEditor(slot, { id, label, onInput }) {
  const root = document.createElement('div');
  root.className = 'code';
  const gutter = document.createElement('div');
  gutter.className = 'gutter';
  gutter.setAttribute('aria-hidden', 'true');
  const numbers = document.createElement('div');
  gutter.append(numbers);
  const body = document.createElement('div');
  body.className = 'code-body';
  const mark = document.createElement('div');
  mark.className = 'mark';
  mark.hidden = true;
  const area = document.createElement('textarea');
  area.id = id;
  area.spellcheck = false;
  area.autocomplete = 'off';
  area.setAttribute('wrap', 'off');
  area.setAttribute('autocapitalize', 'off');
  area.setAttribute('aria-label', label);
  body.append(mark, area);
  root.append(gutter, body);
  slot.append(root);

  let markedLine = null;
  let lineCount = 0;

  function renumber() {
    const count = area.value.split('\n').length;
    if (count === lineCount) return;
    lineCount = count;
    numbers.textContent = Array.from({ length: count }, (_, i) => i + 1).join('\n');
  }

  function place() {
    numbers.style.transform = `translateY(${-area.scrollTop}px)`;
    if (markedLine !== null) {
      mark.style.transform = `translateY(${PADDING + (markedLine - 1) * LINE_HEIGHT - area.scrollTop}px)`;
    }
  }

  area.addEventListener('input', () => {
    renumber();
    place();
    onInput(area.value);
  });
  area.addEventListener('scroll', place);
  // Tab indents (authors expect it); Escape then Tab leaves the editor, so the keyboard never traps.
  let escaped = false;
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      escaped = true;
      return;
    }
    if (event.key === 'Tab' && !escaped && !event.shiftKey && !event.ctrlKey && !event.altKey) {
      event.preventDefault();
      document.execCommand('insertText', false, '  ');
    }
    escaped = false;
  });
  area.addEventListener('blur', () => {
    escaped = false;
  });

  return {
    element: area,
    get value() {
      return area.value;
    },
    /** Replaces the text without firing `onInput`. */
    set value(text) {
      if (area.value !== text) area.value = text;
      renumber();
      place();
    },
    /** Highlights `line` (1-based), or clears the highlight with null. */
    markLine(line) {
      markedLine = Number.isInteger(line) && line > 0 ? line : null;
      mark.hidden = markedLine === null;
      root.classList.toggle('has-error', markedLine !== null);
      place();
    },
    /** Puts the caret at `line`:`column` (1-based) and scrolls it into view. */
    goTo(line, column = 1) {
      const lines = area.value.split('\n');
      const target = Math.min(Math.max(line, 1), lines.length);
      let offset = 0;
      for (let i = 0; i < target - 1; i += 1) offset += lines[i].length + 1;
      offset += Math.min(Math.max(column - 1, 0), lines[target - 1].length);
      area.focus();
      area.setSelectionRange(offset, offset);
      const top = PADDING + (target - 1) * LINE_HEIGHT;
      if (top < area.scrollTop || top > area.scrollTop + area.clientHeight - LINE_HEIGHT * 2) {
        area.scrollTop = Math.max(0, top - area.clientHeight / 3);
      }
      place();
    },
  };
}
