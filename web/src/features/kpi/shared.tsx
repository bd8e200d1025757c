import { DownloadOutlined } from '@ant-design/icons';
import { Button, DatePicker } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useSearchParams } from 'react-router-dom';
import { useI18n } from '@/app/i18n';
import { download, toCsv } from '@/lib/format';
import type { CsvTable } from './series';

/** A table offered as a CSV file (the console's one CSV writer: quoting and a BOM for Excel). */
export function CsvButton({ filename, table, testId }: { filename: string; table: CsvTable; testId?: string }) {
  const { t } = useI18n();
  return (
    <Button
      size="small"
      icon={<DownloadOutlined />}
      disabled={table.rows.length === 0}
      onClick={() => download(filename, toCsv(table.columns, table.rows))}
      data-testid={testId}
    >
      {t('common.downloadCsv')}
    </Button>
  );
}

export interface Period {
  /** The `from`/`to` the URL names (undefined: the API's default period). */
  query: { from?: string; to?: string };
  set: (range: [Dayjs, Dayjs] | null) => void;
}

/** The period a page reads, kept in the URL (`?from=…&to=…`) so that a link or a reload shows the same one. */
export function usePeriod(): Period {
  const [search, setSearch] = useSearchParams();
  const from = search.get('from') ?? undefined;
  const to = search.get('to') ?? undefined;
  return {
    query: { ...(from ? { from } : {}), ...(to ? { to } : {}) },
    set: (range) => {
      const next = new URLSearchParams(search);
      if (range) {
        next.set('from', range[0].format('YYYY-MM-DD'));
        next.set('to', range[1].format('YYYY-MM-DD'));
      } else {
        next.delete('from');
        next.delete('to');
      }
      setSearch(next, { replace: true });
    },
  };
}

/** A period picker showing the URL's period, else the one the API answered for (`shown`); clearing goes back
 * to the default (for a journey report: every run). */
export function PeriodInput({ period, shown, placeholder }: { period: Period; shown?: [string, string] | null; placeholder?: [string, string] }) {
  const value = period.query.from && period.query.to ? [period.query.from, period.query.to] : shown;
  return (
    <DatePicker.RangePicker
      value={value ? [dayjs(value[0]), dayjs(value[1])] : null}
      placeholder={placeholder}
      onChange={(r) => period.set(r?.[0] && r[1] ? [r[0], r[1]] : null)}
      data-testid="kpi-period"
    />
  );
}
