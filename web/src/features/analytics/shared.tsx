import { DatePicker, Form, Input, Modal, Select } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useMemo, useState } from 'react';
import type { Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import type { Catalog } from '@/features/segments/RuleBuilder';
import { useFields } from '@/features/tags/queries';

export type Filter = Schemas['PropertyFilter'];

/** The event pickers' catalogue (events and their properties) in the shape the rule builder's filters take. */
export function useEventCatalog(): Catalog {
  const fields = useFields();
  return useMemo(
    () => ({
      tags: [],
      indicators: [],
      attributes: fields.data?.attributes ?? [],
      attributeKinds: fields.data?.attribute_kinds ?? {},
      events: fields.data?.events ?? [],
      eventProperties: fields.data?.event_properties ?? {},
      segments: [],
    }),
    [fields.data],
  );
}

/** A date range as the API's YYYY-MM-DD pair; defaults to the last `days` days. */
export function useRange(days = 30): [[Dayjs, Dayjs], (r: [Dayjs, Dayjs]) => void, { from: string; to: string }] {
  const [range, setRange] = useState<[Dayjs, Dayjs]>([dayjs().subtract(days - 1, 'day'), dayjs()]);
  return [range, setRange, { from: range[0].format('YYYY-MM-DD'), to: range[1].format('YYYY-MM-DD') }];
}

export function RangeInput({ value, onChange }: { value: [Dayjs, Dayjs]; onChange: (r: [Dayjs, Dayjs]) => void }) {
  return (
    <DatePicker.RangePicker
      value={value}
      allowClear={false}
      onChange={(r) => r?.[0] && r[1] && onChange([r[0], r[1]])}
      data-testid="analytics-range"
    />
  );
}

export function EventSelect({
  value,
  onChange,
  events,
  testId,
  allowClear,
}: {
  value?: string | null;
  onChange: (v: string) => void;
  events: string[];
  testId?: string;
  allowClear?: boolean;
}) {
  const { t } = useI18n();
  return (
    <Select
      showSearch
      allowClear={allowClear}
      value={value || undefined}
      placeholder={t('builder.pickEvent')}
      style={{ width: 220 }}
      options={events.map((e) => ({ value: e, label: e }))}
      onChange={onChange}
      data-testid={testId}
    />
  );
}

/** Ask for a segment name, then save (used by a funnel's drop-off and a retention cell). */
export function useSaveAsSegment(save: (segment: string) => Promise<{ name: string; size?: number | null }>) {
  const { t } = useI18n();
  const [open, setOpen] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const modal = (
    <Modal
      open={open !== null}
      title={open}
      okButtonProps={{ loading: busy, disabled: !/^[a-z][a-z0-9_]{0,63}$/.test(name), 'data-testid': 'save-segment-ok' } as never}
      onCancel={() => setOpen(null)}
      onOk={async () => {
        setBusy(true);
        try {
          const answer = await save(name);
          setSaved(t('an.savedAs', { name: answer.name, size: answer.size ?? 0 }));
          setOpen(null);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Form layout="vertical">
        <Form.Item label={t('an.segmentName')} extra={t('form.name')}>
          <Input value={name} onChange={(e) => setName(e.target.value.trim())} data-testid="save-segment-name" />
        </Form.Item>
      </Form>
    </Modal>
  );
  return { ask: (title: string) => setOpen(title), modal, saved };
}
