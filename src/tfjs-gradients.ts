/**
 * tfjs-core alone registers no gradient functions, and its per-file ESM build cannot be imported
 * by Node directly. The @tensorflow/tfjs bundle registers all gradients (and the chained ops) in
 * the shared global registry; import it once, for its side effects, wherever tf.grad is used.
 */
import '@tensorflow/tfjs';
