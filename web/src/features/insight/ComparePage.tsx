import { DownloadOutlined } from '@ant-design/icons';
import { Button, Card, Col, Empty, Row, Select, Table, Tag } from 'antd';
import { useSearchParams } from 'react-router-dom';
import type { Schemas } from '@/api/client';
import { useI18n } from '@/app/i18n';
import { PageHeader } from '@/components/PageHeader';
import { useSegments } from '@/features/segments/queries';
import { download, formatCount, toCsv } from '@/lib/format';
import { useOverlap } from './queries';
import { regionMask, VENN4_BOX, VENN4_ELLIPSES, venn4LabelPoints } from './venn4';

type Region = Schemas['OverlapRegion'];
const COLORS = ['#1f5fbf', '#13a8a8', '#d48806', '#9254de'];

/** 重叠分析: 2–4 segments as a Venn diagram with the count of each region, and every region in a table. */
export default function ComparePage() {
  const { t, locale } = useI18n();
  const [params, setParams] = useSearchParams();
  const names = (params.get('names') ?? '').split(',').filter(Boolean);
  const segments = useSegments();
  const overlap = useOverlap(names);
  const regions = overlap.data?.regions ?? [];
  return (
    <div data-testid="compare-page">
      <PageHeader title={t('ins.overlap')} />
      <Card size="small" style={{ marginBottom: 16 }}>
        <Select
          mode="multiple"
          maxCount={4}
          value={names}
          placeholder={t('ins.overlap.pick')}
          style={{ minWidth: 480 }}
          options={(segments.data ?? []).map((s) => ({ value: s.name, label: `${s.title} (${s.name})` }))}
          onChange={(chosen: string[]) => setParams(chosen.length ? { names: chosen.join(',') } : {})}
          data-testid="compare-pick"
        />
      </Card>
      {names.length < 2 || !overlap.data ? (
        <Empty description={t('ins.overlap.pick')} />
      ) : (
        <Row gutter={16}>
          <Col xs={24} xl={10}>
            <Card size="small">
              {names.length <= 3 ? (
                <Venn names={names} sizes={overlap.data.sizes} regions={regions} />
              ) : (
                <Venn4 names={names} sizes={overlap.data.sizes} regions={regions} />
              )}
            </Card>
          </Col>
          <Col xs={24} xl={14}>
            <Card
              size="small"
              extra={
                <Button
                  size="small"
                  icon={<DownloadOutlined />}
                  onClick={() => download('overlap.csv', toCsv(['segments', 'exactly', 'intersection'], regions.map((r) => [r.segments.join('+'), r.exactly, r.intersection])))}
                >
                  {t('ins.csv')}
                </Button>
              }
            >
              <Table<Region>
                size="small"
                pagination={false}
                rowKey={(r) => r.segments.join('+')}
                dataSource={regions}
                data-testid="overlap-table"
                columns={[
                  {
                    title: t('ins.overlap.region'),
                    dataIndex: 'segments',
                    render: (s: string[]) => s.map((n) => <Tag key={n} color={COLORS[names.indexOf(n)]}>{n}</Tag>),
                  },
                  { title: t('ins.overlap.exactly'), dataIndex: 'exactly', render: (n: number) => formatCount(n, locale) },
                  { title: t('ins.overlap.intersection'), dataIndex: 'intersection', render: (n: number) => formatCount(n, locale) },
                ]}
              />
            </Card>
          </Col>
        </Row>
      )}
    </div>
  );
}

/** Two or three circles with the count of customers in exactly each region written in it. */
function Venn({ names, sizes, regions }: { names: string[]; sizes: Record<string, number>; regions: Region[] }) {
  const exactly = (members: string[]) =>
    regions.find((r) => r.segments.length === members.length && members.every((m) => r.segments.includes(m)))?.exactly ?? 0;
  const centres = names.length === 2 ? [[140, 150], [240, 150]] : [[150, 125], [230, 125], [190, 195]];
  const labels: { x: number; y: number; members: string[] }[] =
    names.length === 2
      ? [
          { x: 100, y: 150, members: [names[0]!] },
          { x: 280, y: 150, members: [names[1]!] },
          { x: 190, y: 150, members: names },
        ]
      : [
          { x: 100, y: 100, members: [names[0]!] },
          { x: 280, y: 100, members: [names[1]!] },
          { x: 190, y: 255, members: [names[2]!] },
          { x: 190, y: 80, members: [names[0]!, names[1]!] },
          { x: 140, y: 190, members: [names[0]!, names[2]!] },
          { x: 240, y: 190, members: [names[1]!, names[2]!] },
          { x: 190, y: 150, members: names },
        ];
  return (
    <svg viewBox="0 0 380 300" width="100%" role="img" data-testid="venn">
      {names.map((name, i) => (
        <g key={name}>
          <circle cx={centres[i]![0]} cy={centres[i]![1]} r={90} fill={COLORS[i]} fillOpacity={0.18} stroke={COLORS[i]} />
          <text x={centres[i]![0]} y={i === 2 ? 292 : 22} textAnchor="middle" fontSize={12} fill={COLORS[i]}>
            {name} ({sizes[name] ?? 0})
          </text>
        </g>
      ))}
      {labels.map((label) => (
        <text key={label.members.join('+')} x={label.x} y={label.y} textAnchor="middle" fontSize={14} fontWeight={600}>
          {exactly(label.members)}
        </text>
      ))}
    </svg>
  );
}

/** Four ellipses (the classic layout), the count of customers in exactly each of the 15 regions written in
 * it, and the segments' names and sizes beneath. */
function Venn4({ names, sizes, regions }: { names: string[]; sizes: Record<string, number>; regions: Region[] }) {
  const { locale } = useI18n();
  const byMask = new Map(regions.map((r) => [regionMask(r.segments, names), r.exactly]));
  const box = VENN4_BOX;
  return (
    <div data-testid="venn">
      <svg viewBox={`${box.x} ${box.y} ${box.width} ${box.height}`} width="100%" role="img" data-testid="venn4">
        {VENN4_ELLIPSES.map((e, i) => (
          <ellipse
            key={names[i]}
            cx={e.cx}
            cy={e.cy}
            rx={e.rx}
            ry={e.ry}
            transform={`rotate(${e.angle} ${e.cx} ${e.cy})`}
            fill={COLORS[i]}
            fillOpacity={0.14}
            stroke={COLORS[i]}
            strokeWidth={1.5}
          />
        ))}
        {[...venn4LabelPoints()].map(([mask, point]) => (
          <text
            key={mask}
            x={point.x}
            y={point.y}
            textAnchor="middle"
            dominantBaseline="central"
            fontSize={mask === 15 ? 15 : 12}
            fontWeight={600}
            data-testid={`venn4-region-${mask}`}
          >
            {formatCount(byMask.get(mask) ?? 0, locale)}
          </text>
        ))}
      </svg>
      <div style={{ display: 'flex', flexWrap: 'wrap', gap: '4px 16px', justifyContent: 'center' }}>
        {names.map((name, i) => (
          <span key={name} style={{ color: COLORS[i], overflowWrap: 'anywhere' }}>
            ● {name} ({formatCount(sizes[name] ?? 0, locale)})
          </span>
        ))}
      </div>
    </div>
  );
}
