// Activation functions shared by kernels (`#include activation`; this file declares no
// bindings). GELU is the exact erf form that ViTs and TIPS use.

// erf by Abramowitz & Stegun 7.1.26 refined: |error| < 1.5e-7, below f32 resolution near 1.
fn erf_approx(x: f32) -> f32 {
  let s = sign(x);
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  return s * y;
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.70710678118654752));
}

// d gelu / dx = Phi(x) + x * phi(x)
fn gelu_grad(x: f32) -> f32 {
  let cdf = 0.5 * (1.0 + erf_approx(x * 0.70710678118654752));
  let pdf = 0.39894228040143268 * exp(-0.5 * x * x);
  return cdf + x * pdf;
}

fn silu(x: f32) -> f32 {
  return x / (1.0 + exp(-x));
}

// Activation by code: 0 none, 1 relu, 2 gelu (a matmul epilogue takes it as a parameter, a B-operand load as an override).
fn activate(code: u32, x: f32) -> f32 {
  switch code {
    case 1u: { return max(x, 0.0); }
    case 2u: { return gelu(x); }
    default: { return x; }
  }
}

fn activate_grad(code: u32, x: f32) -> f32 {
  switch code {
    case 1u: { return select(0.0, 1.0, x > 0.0); }
    case 2u: { return gelu_grad(x); }
    default: { return 1.0; }
  }
}
