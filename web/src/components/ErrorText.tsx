import { Tooltip, Typography } from 'antd';

/** A run's error in red, cut to one line with the whole text on hover; “—” when there is none. */
export function ErrorText({ error, width = 360 }: { error: string | null | undefined; width?: number }) {
  if (!error) return <>—</>;
  return (
    <Tooltip title={error}>
      <Typography.Text type="danger" ellipsis style={{ maxWidth: width }}>
        {error}
      </Typography.Text>
    </Tooltip>
  );
}
