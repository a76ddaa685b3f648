/**
 * The published results `bnrun compare` sets beside a run whose config names
 * a paper network (config field `paper`). Source: Ioffe & Szegedy 2015,
 * section 4.1 / Figure 1 (MNIST, qualitative only) and section 4.2.2 /
 * Figure 3 (ImageNet, validation accuracy of a single centre crop).
 */
import { PAPER_NETWORKS, PaperNetwork } from '../config/schema';

/** Figure 3 measures steps to Inception's own best accuracy, 72.2%. */
export const PUBLISHED_TARGET = 0.722;
/** Steps Inception needed to reach its best accuracy (Figure 3). */
export const PUBLISHED_BASELINE_STEPS = 31.0e6;

export interface Published {
  /** The network's name in the paper. */
  label: string;
  /** Where the paper reports it. */
  source: string;
  /**
   * Steps to reach 72.2% (Figure 3): a number, 'never', 'diverges', or null
   * when the paper gives none (MNIST).
   */
  steps: number | 'never' | 'diverges' | null;
  /** Max validation accuracy, a fraction; null when the paper gives none. */
  maxAccuracy: number | null;
  /** How the table shows the max accuracy when a bare percentage would say too little. */
  maxText?: string;
  /** What the paper says besides the numbers. */
  note: string;
}

export const PUBLISHED: Record<PaperNetwork, Published> = {
  'mnist-baseline': {
    label: 'MNIST baseline',
    source: 'Figure 1(a)',
    steps: null,
    maxAccuracy: null,
    note: 'no numbers published; the reference curve of Figure 1(a)',
  },
  'mnist-bn': {
    label: 'MNIST BN',
    source: 'Figure 1(a)',
    steps: null,
    maxAccuracy: null,
    note: 'no numbers published; trains faster and reaches higher test accuracy than the baseline',
  },
  inception: {
    label: 'Inception',
    source: 'Figure 3',
    steps: 31.0e6,
    maxAccuracy: 0.722,
    note: 'the baseline: 72.2% is its best accuracy',
  },
  'bn-baseline': {
    label: 'BN-Baseline',
    source: 'Figure 3',
    steps: 13.3e6,
    maxAccuracy: 0.727,
    note: 'Inception with BN before every nonlinearity',
  },
  'bn-x5': {
    label: 'BN-x5',
    source: 'Figure 3',
    steps: 2.1e6,
    maxAccuracy: 0.73,
    note: 'matches Inception in 14x fewer steps',
  },
  'bn-x30': {
    label: 'BN-x30',
    source: 'Figure 3',
    steps: 2.7e6,
    maxAccuracy: 0.748,
    maxText: '74.8% (after 6e6 steps)',
    note: 'max accuracy after 6e6 steps',
  },
  'bn-x5-sigmoid': {
    label: 'BN-x5-Sigmoid',
    source: 'Figure 3',
    steps: 'never',
    maxAccuracy: 0.698,
    note: 'never reaches 72.2%',
  },
  'inception-x5': {
    label: 'Inception x5',
    source: 'section 4.2.2',
    steps: 'diverges',
    maxAccuracy: null,
    note: 'the 5x rate drives the parameters to machine infinity',
  },
  'inception-sigmoid': {
    label: 'Inception sigmoid',
    source: 'section 4.2.2',
    steps: 'never',
    maxAccuracy: null,
    maxText: 'chance (0.1%)',
    note: 'never beats chance (1/1000)',
  },
};

/** The Figure 3 speed-up over Inception (31.0e6 / steps), or null where it has none. */
export function publishedSpeedup(p: Published): number | null {
  return typeof p.steps === 'number' ? PUBLISHED_BASELINE_STEPS / p.steps : null;
}

/** The Inception-family paper networks (section 4.2), drawn in Figure 2. */
export const INCEPTION_FAMILY: readonly PaperNetwork[] = PAPER_NETWORKS.filter((n) => !n.startsWith('mnist-'));

/** Paper networks that serve as the baseline of their dataset. */
export const BASELINE_NETWORKS: readonly PaperNetwork[] = ['inception', 'mnist-baseline'];
