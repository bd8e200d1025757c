import {
  ApartmentOutlined, CopyOutlined, ExperimentOutlined, RedoOutlined, SaveOutlined, SendOutlined, SettingOutlined, UndoOutlined,
} from '@ant-design/icons';
import { ReactFlowProvider } from '@xyflow/react';
import { Alert, App, Badge, Button, List, Modal, Radio, Select, Space, Tag, Tooltip, Typography } from 'antd';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useParams, useSearchParams } from 'react-router-dom';
import { ApiError } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageLoading } from '@/app/PageLoading';
import { useRuleCatalog } from '@/features/segments/catalog';
import type { MessageKey } from '@/locales/zh-CN';
import { diffNodes, diffSettings, versionMarks } from './diff';
import { autoLayout, duplicate, ENTRY_ID, fromCanvas, PALETTE, removeItem, toCanvas, type Canvas, type Json, type PaletteKey } from './graph';
import { useHistory } from './history';
import { DRAG_TYPE, JourneyCanvas } from './JourneyCanvas';
import { PALETTE_ICONS } from './JourneyNode';
import { NodePanel, type Pickers } from './NodePanel';
import {
  useJourney, useJourneyCheck, useJourneys, useMotRules, usePublishJourney, useSaveJourney, useTemplates, type JourneyFault,
  type JourneySummary,
} from './queries';
import { SettingsDrawer } from './SettingsDrawer';
import { SimulationModal } from './SimulationModal';
import { StatusBadge } from './status';

const BLANK: Json = { name: '', title: '', entry: { type: 'segment', segment: '' }, start: '', nodes: [] };

const PALETTE_GROUPS: { title: MessageKey; keys: PaletteKey[] }[] = [
  { title: 'journey.group.entry', keys: ['entry_segment', 'entry_schedule', 'entry_event', 'entry_mot', 'entry_api'] },
  { title: 'journey.group.wait', keys: ['wait', 'wait_until', 'wait_for_event'] },
  { title: 'journey.group.split', keys: ['split', 'ab_split'] },
  { title: 'journey.group.reach', keys: ['send'] },
  { title: 'journey.group.service', keys: ['advisor_task'] },
  { title: 'journey.group.data', keys: ['set_tag', 'set_attribute', 'webhook'] },
  { title: 'journey.group.control', keys: ['exit'] },
];

/** 画布: build a journey from the palette, configure each node beside it, see its faults on the nodes. */
export default function JourneyEditorPage() {
  const { name } = useParams();
  const [search] = useSearchParams();
  const version = search.get('version') ? Number(search.get('version')) : undefined;
  const loaded = useJourney(name, version);
  const list = useJourneys();
  if (name && (loaded.isPending || list.isPending)) return <PageLoading />;
  const summary = list.data?.find((j) => j.name === name);
  const definition = (name ? (loaded.data as Json | undefined) : undefined) ?? BLANK;
  const readOnly = version !== undefined && version !== summary?.latest_version;
  return (
    <ReactFlowProvider>
      <Editor key={`${name ?? 'new'}:${version ?? ''}`} existing={name} definition={definition} summary={summary} readOnly={readOnly} version={version} />
    </ReactFlowProvider>
  );
}

function usePickers(): Pickers {
  const catalog = useRuleCatalog();
  const templates = useTemplates();
  const rules = useMotRules();
  return useMemo(
    () => ({
      catalog: {
        ...catalog,
        events: [...new Set([...catalog.events, ...(rules.data ?? []).map((r) => `mot_${r.name}`), 'advisor_task_completed'])].sort(),
      },
      templates: (templates.data ?? []).map((tp) => ({ name: tp.name, title: tp.title, channel: tp.channel, status: tp.status })),
      motRules: (rules.data ?? []).map((r) => ({ name: r.name, title: r.title })),
    }),
    [catalog, templates.data, rules.data],
  );
}

interface EditorProps {
  existing?: string;
  definition: Json;
  summary?: JourneySummary;
  readOnly: boolean;
  version?: number;
}

function draftKey(name: string | undefined): string {
  return `touchpoint.journey.draft.${name ?? 'new'}`;
}

function Editor({ existing, definition, summary, readOnly, version }: EditorProps) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const navigate = useNavigate();
  const pickers = usePickers();
  // The loaded definition as the canvas gives it back: the start of the history and what "saved" compares to
  // (laid out once, not on every render: a definition without positions is laid out by dagre).
  const initial = useMemo(() => toCanvas(definition), [definition]);
  const savedText = useMemo(() => JSON.stringify(fromCanvas(initial)), [initial]);
  const history = useHistory<Canvas>(initial);
  const canvas = history.present;
  const [selected, setSelected] = useState<string[]>([]);
  const [settingsOpen, setSettingsOpen] = useState(!existing);
  const [publishing, setPublishing] = useState(false);
  const [simulating, setSimulating] = useState(false);
  const [compareTo, setCompareTo] = useState<number | null>(null);
  const clipboard = useRef<string[]>([]);
  const body = useMemo(() => fromCanvas(canvas), [canvas]);
  const check = useJourneyCheck(body);
  const save = useSaveJourney();
  const name = String(canvas.settings.name ?? '');
  const saved = JSON.stringify(body) === savedText;

  // Unsaved work survives a reload: the canvas's definition is kept in the browser until it is saved.
  const [restorable, setRestorable] = useState<Json | null>(() => {
    const kept = window.localStorage.getItem(draftKey(existing));
    return kept && !readOnly && kept !== JSON.stringify(body) ? (JSON.parse(kept) as Json) : null;
  });
  useEffect(() => {
    if (readOnly || restorable) return;
    if (saved) window.localStorage.removeItem(draftKey(existing));
    else window.localStorage.setItem(draftKey(existing), JSON.stringify(body));
  }, [body, saved, existing, readOnly, restorable]);

  const faults = useMemo(() => {
    const byNode = new Map<string, JourneyFault[]>();
    for (const f of check.data?.faults ?? []) {
      const at = f.node ?? (f.place.startsWith('entry') || f.place === 'start' ? ENTRY_ID : null);
      if (at) byNode.set(at, [...(byNode.get(at) ?? []), f]);
    }
    return byNode;
  }, [check.data]);
  const problems = check.data?.faults ?? [];
  const unready = check.data?.not_ready ?? [];

  const compared = useJourney(compareTo !== null ? existing : undefined, compareTo ?? undefined);
  const marks = useMemo(() => (compared.data ? versionMarks(compared.data as Json, body) : undefined), [compared.data, body]);

  const focus = useCallback((id: string) => setSelected([id]), []);
  const node = selected.length === 1 ? canvas.nodes.find((n) => n.id === selected[0]) : undefined;

  // Keyboard: undo/redo, copy/paste of the selected nodes (deletion is React Flow's Backspace/Delete).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target && (target.closest('input, textarea, [contenteditable="true"]') || target.isContentEditable)) return;
      if (event.key === 'Escape') {
        setSelected([]); // the panel closes, the canvas is whole again
        return;
      }
      const mod = event.ctrlKey || event.metaKey;
      if (!mod || readOnly) return;
      const key = event.key.toLowerCase();
      if (key === 'z' && !event.shiftKey) history.undo();
      else if ((key === 'z' && event.shiftKey) || key === 'y') history.redo();
      else if (key === 'c') clipboard.current = selected.filter((id) => id !== ENTRY_ID);
      else if (key === 'v' && clipboard.current.length) {
        const copied = duplicate(canvas, clipboard.current);
        history.commit(copied.canvas);
        setSelected(copied.ids);
      } else return;
      event.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [canvas, history, readOnly, selected]);

  const onSave = async () => {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) {
      setSettingsOpen(true);
      message.error(t('journey.field.nameHelp'));
      return;
    }
    try {
      const result = await save.mutateAsync({ name, body });
      window.localStorage.removeItem(draftKey(existing));
      message.success(t('journey.saved', { version: result.version }));
      navigate(`/journeys/${name}/edit`, { replace: true });
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };

  const versions = summary ? Array.from({ length: summary.latest_version }, (_, i) => i + 1) : [];
  return (
    <div className="journey-editor">
      <div className="journey-toolbar">
        <Space wrap>
          <Typography.Title level={4} style={{ margin: 0 }}>
            {String(canvas.settings.title || '') || t('journey.untitled')}
          </Typography.Title>
          {summary && <StatusBadge status={summary.status} />}
          {summary && <VersionChip summary={summary} viewing={version} />}
          {!saved && !readOnly && <Tag color="orange">{t('journey.unsaved')}</Tag>}
          {readOnly && <Tag>{t('journey.readOnly')}</Tag>}
        </Space>
        <Space wrap style={{ marginLeft: 'auto' }}>
          <Tooltip title="Ctrl+Z">
            <Button icon={<UndoOutlined />} disabled={!history.canUndo || readOnly} onClick={history.undo} aria-label={t('journey.undo')} />
          </Tooltip>
          <Tooltip title="Ctrl+Shift+Z">
            <Button icon={<RedoOutlined />} disabled={!history.canRedo || readOnly} onClick={history.redo} aria-label={t('journey.redo')} />
          </Tooltip>
          <Tooltip title="Ctrl+C / Ctrl+V">
            <Button
              icon={<CopyOutlined />}
              disabled={readOnly || !selected.some((id) => id !== ENTRY_ID)}
              onClick={() => {
                const copied = duplicate(canvas, selected);
                history.commit(copied.canvas);
                setSelected(copied.ids);
              }}
            >
              {t('journey.duplicate')}
            </Button>
          </Tooltip>
          <Button icon={<ApartmentOutlined />} disabled={readOnly} onClick={() => history.commit({ ...canvas, nodes: autoLayout(canvas.nodes, canvas.edges) })}>
            {t('journey.layout')}
          </Button>
          {existing && versions.length > 1 && (
            <Select
              allowClear
              placeholder={t('journey.compare')}
              style={{ width: 150 }}
              value={compareTo ?? undefined}
              options={versions.map((v) => ({ value: v, label: `${t('journey.compareWith')} V${v}` }))}
              onChange={(v?: number) => setCompareTo(v ?? null)}
              data-testid="journey-compare"
            />
          )}
          <Button icon={<SettingOutlined />} onClick={() => setSettingsOpen(true)} data-testid="journey-open-settings">
            {t('journey.settings')}
          </Button>
          <Button type="primary" icon={<SaveOutlined />} disabled={readOnly || saved || problems.length > 0} loading={save.isPending} onClick={onSave} data-testid="journey-save">
            {problems.length ? t('journey.problems', { n: problems.length }) : t('journey.save')}
          </Button>
          {existing && (
            <Button icon={<ExperimentOutlined />} disabled={!saved} onClick={() => setSimulating(true)} data-testid="journey-simulate">
              {t('journey.simulate')}
            </Button>
          )}
          {existing && summary && (
            <Button
              type="primary"
              ghost
              icon={<SendOutlined />}
              disabled={!saved || readOnly || unready.length > 0 || summary.live_version === summary.latest_version}
              onClick={() => setPublishing(true)}
              data-testid="journey-publish"
            >
              {t('journey.submit')}
            </Button>
          )}
        </Space>
      </div>
      {restorable && (
        <Alert
          type="info"
          showIcon
          message={t('journey.restore')}
          action={
            <Space>
              <Button size="small" type="primary" onClick={() => { history.commit(toCanvas(restorable)); setRestorable(null); }}>
                {t('journey.restore.yes')}
              </Button>
              <Button size="small" onClick={() => { window.localStorage.removeItem(draftKey(existing)); setRestorable(null); }}>
                {t('journey.restore.no')}
              </Button>
            </Space>
          }
        />
      )}
      {compared.data && <CompareNote before={compared.data as Json} after={body} version={compareTo!} />}
      <div className="journey-body">
        {!readOnly && <Palette />}
        <JourneyCanvas
          canvas={canvas}
          selected={selected}
          faults={faults}
          marks={marks}
          readOnly={readOnly}
          onSelect={setSelected}
          onCommit={(next) => history.commit(next)}
          onReplace={history.replace}
          onDragStart={history.mark}
        />
        {node && (
          <NodePanel
            key={node.id}
            node={node}
            faults={faults.get(node.id) ?? []}
            pickers={pickers}
            readOnly={readOnly}
            onChange={(data) => history.commit({ ...canvas, nodes: canvas.nodes.map((n) => (n.id === node.id ? { ...n, data } : n)) }, node.id)}
            onRemoveItem={(list, index) => history.commit(removeItem(canvas, node.id, list, index))}
          />
        )}
      </div>
      <Issues faults={problems} unready={unready} onFocus={focus} />
      <SettingsDrawer
        open={settingsOpen}
        settings={canvas.settings}
        isNew={!existing}
        readOnly={readOnly}
        catalog={pickers.catalog}
        onClose={() => setSettingsOpen(false)}
        onChange={(settings) => history.commit({ ...canvas, settings }, 'settings')}
      />
      {publishing && summary && <PublishModal summary={summary} onClose={() => setPublishing(false)} />}
      {simulating && existing && (
        <SimulationModal name={existing} version={version} canvas={canvas} onClose={() => setSimulating(false)} />
      )}
    </div>
  );
}

function Palette() {
  const { t } = useI18n();
  return (
    <div className="journey-palette" data-testid="journey-palette">
      <Typography.Text strong>{t('journey.palette')}</Typography.Text>
      {PALETTE_GROUPS.map((group) => (
        <div key={group.title}>
          <div className="journey-palette-group">{t(group.title)}</div>
          {group.keys.map((key) => (
            <div
              key={key}
              className={`journey-palette-item journey-palette-${PALETTE[key].kind}`}
              draggable
              onDragStart={(event) => {
                event.dataTransfer.setData(DRAG_TYPE, key);
                event.dataTransfer.effectAllowed = 'move';
              }}
              data-testid={`palette-${key}`}
            >
              {PALETTE_ICONS[key]} {t(`journey.palette.${key}` as MessageKey)}
            </div>
          ))}
        </div>
      ))}
      <Typography.Paragraph type="secondary" style={{ marginTop: 8, fontSize: 12 }}>
        {t('journey.palette.help')}
      </Typography.Paragraph>
    </div>
  );
}

function Issues({ faults, unready, onFocus }: { faults: JourneyFault[]; unready: JourneyFault[]; onFocus: (id: string) => void }) {
  const { t } = useI18n();
  const items = [...faults.map((f) => ({ ...f, level: 'error' as const })), ...unready.map((f) => ({ ...f, level: 'warning' as const }))];
  if (!items.length) return null;
  return (
    <div className="journey-issues" data-testid="journey-issues">
      <List
        size="small"
        header={<Typography.Text strong>{t('journey.issues', { n: faults.length, m: unready.length })}</Typography.Text>}
        dataSource={items}
        renderItem={(item) => (
          <List.Item
            onClick={() => (item.node ? onFocus(item.node) : item.place.startsWith('entry') || item.place === 'start' ? onFocus(ENTRY_ID) : undefined)}
            style={{ cursor: item.node ? 'pointer' : undefined }}
          >
            <Badge status={item.level} />
            <Typography.Text code>{item.node ?? item.place}</Typography.Text> {item.message}
          </List.Item>
        )}
      />
    </div>
  );
}

function VersionChip({ summary, viewing }: { summary: JourneySummary; viewing?: number }) {
  const { t } = useI18n();
  const parts = [];
  if (summary.live_version) parts.push(t('journey.version.live', { v: summary.live_version }));
  if (summary.latest_version !== summary.live_version) parts.push(t('journey.version.draft', { v: summary.latest_version }));
  return (
    <Tag color="blue" data-testid="journey-version">
      {parts.join(' · ')}
      {viewing ? ` · ${t('journey.version.viewing', { v: viewing })}` : ''}
    </Tag>
  );
}

function CompareNote({ before, after, version }: { before: Json; after: Json; version: number }) {
  const { t } = useI18n();
  const nodes = diffNodes(before, after);
  const settings = diffSettings(before, after);
  return (
    <Alert
      type="info"
      showIcon
      data-testid="journey-diff"
      message={t('journey.diff', { v: version, added: nodes.added.length, changed: nodes.changed.length, removed: nodes.removed.length })}
      description={[
        nodes.removed.length ? `${t('journey.diff.removed')}: ${nodes.removed.join(', ')}` : '',
        settings.length ? `${t('journey.diff.settings')}: ${settings.join(', ')}` : '',
      ]
        .filter(Boolean)
        .join(' · ') || undefined}
    />
  );
}

function PublishModal({ summary, onClose }: { summary: JourneySummary; onClose: () => void }) {
  const { t } = useI18n();
  const { message } = App.useApp();
  const publish = usePublishJourney(summary.name);
  const [inFlight, setInFlight] = useState<'keep' | 'move' | 'end'>('keep');
  const onOk = async () => {
    try {
      const result = await publish.mutateAsync({ in_flight: inFlight });
      message.success(result.status === 'pending' ? t('journey.publish.pending') : t('journey.publish.live', { v: result.version }));
      onClose();
    } catch (error) {
      message.error(error instanceof ApiError ? error.message : String(error));
    }
  };
  return (
    <Modal open title={t('journey.submit')} onOk={onOk} onCancel={onClose} confirmLoading={publish.isPending} okText={t('journey.submit')} data-testid="journey-publish-modal">
      <Typography.Paragraph>{t('journey.publish.what', { v: summary.latest_version })}</Typography.Paragraph>
      {summary.live_version ? (
        <>
          <Typography.Paragraph strong>{t('journey.publish.inFlight', { v: summary.live_version })}</Typography.Paragraph>
          <Radio.Group
            value={inFlight}
            onChange={(e) => setInFlight(e.target.value as 'keep' | 'move' | 'end')}
            options={(['keep', 'move', 'end'] as const).map((v) => ({ value: v, label: t(`journey.publish.${v}`) }))}
          />
        </>
      ) : null}
      <Typography.Paragraph type="secondary" style={{ marginTop: 12 }}>
        {t('journey.publish.approval')}
      </Typography.Paragraph>
    </Modal>
  );
}
