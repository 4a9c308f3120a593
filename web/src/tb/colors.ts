/** Line colors of the scalar charts (Tableau 10: distinguishable on a white background), shared with their legends. */
const COLORS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'];

export const lineColor = (i: number): string => COLORS[i % COLORS.length] as string;
