import { useCallback, useRef, useState } from 'react';

/** Undo/redo over snapshots of a value. `commit` makes a step (edits of one `key` within a second are one step);
 * `replace` changes the present within the current step (a drag under way); `mark` starts a step the next
 * replaces will fill (a drag starting). */
export function useHistory<T>(initial: T) {
  const [state, setState] = useState<{ past: T[]; present: T; future: T[] }>({ past: [], present: initial, future: [] });
  const last = useRef<{ key: string; at: number } | null>(null);

  const commit = useCallback((next: T, key?: string) => {
    const now = Date.now();
    const coalesce = key !== undefined && last.current?.key === key && now - last.current.at < 1000;
    last.current = key === undefined ? null : { key, at: now };
    setState((s) => ({ past: coalesce ? s.past : [...s.past.slice(-99), s.present], present: next, future: [] }));
  }, []);
  const replace = useCallback((next: T) => setState((s) => ({ ...s, present: next })), []);
  const mark = useCallback(() => {
    last.current = null;
    setState((s) => ({ past: [...s.past.slice(-99), s.present], present: s.present, future: [] }));
  }, []);
  const undo = useCallback(() => {
    last.current = null;
    setState((s) => (s.past.length ? { past: s.past.slice(0, -1), present: s.past.at(-1)!, future: [s.present, ...s.future] } : s));
  }, []);
  const redo = useCallback(() => {
    last.current = null;
    setState((s) => (s.future.length ? { past: [...s.past, s.present], present: s.future[0]!, future: s.future.slice(1) } : s));
  }, []);
  const reset = useCallback((next: T) => setState({ past: [], present: next, future: [] }), []);
  return { present: state.present, canUndo: state.past.length > 0, canRedo: state.future.length > 0, commit, replace, mark, undo, redo, reset };
}
