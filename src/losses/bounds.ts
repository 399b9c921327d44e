/**
 * How far apart C class directions can be on the unit sphere of a D-dimensional embedding: the
 * geometry behind the D-aware bounds of the losses (CosFace's largest margin, L2-Softmax's α_low).
 */

/**
 * An upper bound θ*(C, D) on the smallest angle between C unit vectors in D dimensions (the
 * Tammes problem), exact where noted:
 *   C <= D + 1:          arccos(−1/(C−1)), the regular simplex (exact);
 *   D = 2:               2π/C, evenly on the circle (exact);
 *   D + 1 < C <= 2D:     π/2, the cross-polytope ±e_i (exact, Rankin);
 *   D = 3, C > 6:        arccos((cot²ω − 1)/2), ω = πC/(6(C−2)) (Fejes Tóth; exact for C = 12);
 *   D >= 4, C > 2D:      π/2 (Rankin: more than 2D vectors cannot all be 90° apart).
 */
export function maxMinAngle(numClasses: number, embeddingDim: number): number {
  const C = numClasses;
  const D = embeddingDim;
  if (C <= 1) return Math.PI;
  if (C <= D + 1) return Math.acos(-1 / (C - 1));
  if (D === 2) return (2 * Math.PI) / C;
  if (C <= 2 * D) return Math.PI / 2;
  if (D === 3) {
    const w = (Math.PI * C) / (6 * (C - 2));
    const cot = 1 / Math.tan(w);
    return Math.acos((cot * cot - 1) / 2);
  }
  return Math.PI / 2;
}

/** How θ*(C, D) is computed for these C and D, for messages and `facelosses losses`. */
export function maxMinAngleFormula(numClasses: number, embeddingDim: number): string {
  const C = numClasses;
  const D = embeddingDim;
  if (C <= D + 1) return 'arccos(−1/(C−1)) (the regular simplex)';
  if (D === 2) return '2π/C (evenly on the circle)';
  if (C <= 2 * D) return 'π/2 (the cross-polytope)';
  if (D === 3) return "arccos((cot²ω − 1)/2), ω = πC/(6(C−2)) (Fejes Tóth's bound on the sphere)";
  return 'π/2 (Rankin)';
}

/** The phrase 'the circle' (2-D), 'the sphere' (3-D) or 'the D-dimensional sphere'. */
export function sphereName(embeddingDim: number): string {
  return embeddingDim === 2 ? 'the circle' : embeddingDim === 3 ? 'the sphere' : `the ${embeddingDim}-D hypersphere`;
}
