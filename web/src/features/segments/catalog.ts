import { useMemo } from 'react';
import { useFields, useIndicators, useTags } from '@/features/tags/queries';
import { useSegments } from './queries';
import type { Catalog } from './RuleBuilder';

/** What the rule pickers offer, read live: tags, indicators, attributes, events with their properties, saved
 * segments (the segment builder and the journey canvas's split and entry share it). */
export function useRuleCatalog(): Catalog {
  const tags = useTags();
  const indicators = useIndicators();
  const fields = useFields();
  const segments = useSegments();
  return useMemo(
    () => ({
      tags: tags.data ?? [],
      indicators: (indicators.data ?? []).map((i) => ({ name: i.name, title: i.title })),
      attributes: fields.data?.attributes ?? [],
      attributeKinds: fields.data?.attribute_kinds ?? {},
      events: fields.data?.events ?? [],
      eventProperties: fields.data?.event_properties ?? {},
      segments: (segments.data ?? []).map((s) => s.name),
    }),
    [tags.data, indicators.data, fields.data, segments.data],
  );
}
