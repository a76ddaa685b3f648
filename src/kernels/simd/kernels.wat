;; bnrun's elementwise training kernels in WebAssembly SIMD (128-bit), run on
;; the wasm backend's own heap (the memory is tfjs-backend-wasm's, imported):
;; the SGD update and the loops of the fused BN kernels. Each gives the result
;; of the JavaScript loop it replaces (src/kernels/sgd-update.ts,
;; src/kernels/batchnorm-fused.ts) to the last bit:
;; - a float32 operation of the JavaScript (a product or sum rounded by
;;   Math.fround or a Float32Array store) is the same f32x4 operation here;
;; - a float64 expression of the JavaScript is evaluated in f64x2 lanes in
;;   the same order and rounded once (f32x4.demote_f64x2_zero), as the store
;;   into a Float32Array rounds it;
;; - per-channel sums run over the rows in order, one f64 lane per channel.
;; V8 gives 4 float32 or 2 float64 lanes, against one for the JavaScript.
;;
;; Pointers are byte offsets into the heap. The BN loops take a tensor viewed
;; as [rows, c] with c a multiple of 4 (the caller checks); per-channel
;; float64 vectors are [c] arrays of f64, per-channel float32 ones [c] of f32.
(module
  (import "env" "memory" (memory 1))

  ;; The f64x2 of lanes 2 and 3 of an f32x4 (lanes 0 and 1: f64x2.promote_low_f32x4).
  (func $promoteHigh (param $v v128) (result v128)
    (f64x2.promote_low_f32x4
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))

  ;; Two f64x2 rounded to float32 and joined into one f32x4 (lo -> lanes 0, 1; hi -> lanes 2, 3).
  (func $demote (param $lo v128) (param $hi v128) (result v128)
    (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (local.get $lo))
      (f32x4.demote_f64x2_zero (local.get $hi))))

  ;; ---------------------------------------------------------------- GEMM
  ;; C = A B, C row-major [m, n]; A(i, k) at a + sai4 i + sak4 k (bytes; so A or A^T), B row-major [k, n].
  ;; Each C(i, j) is summed over k in order in float32, a product rounded then added (no fused
  ;; multiply-add), in the 4x8 tiles and in the edge rows and columns alike. No packing: B's rows
  ;; are read in place, so a product costs nothing before its first multiply.
  (func (export "gemm")
    (param $a i32) (param $sai4 i32) (param $sak4 i32) (param $b i32) (param $c i32) (param $m i32) (param $n i32) (param $k i32)
    (local $i i32) (local $j i32) (local $m4 i32) (local $n8 i32) (local $rowB i32) (local $sai8 i32) (local $sai12 i32)
    (local $pa i32) (local $pb i32) (local $kk i32) (local $pc i32)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowB (i32.shl (local.get $n) (i32.const 2)))
    (local.set $sai8 (i32.shl (local.get $sai4) (i32.const 1)))
    (local.set $sai12 (i32.add (local.get $sai8) (local.get $sai4)))
    (local.set $m4 (i32.and (local.get $m) (i32.const -4)))
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (block $rowsDone
      (loop $rowBlock
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $m4)))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $colBlock
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $n8)))
            (local.set $c00 (v128.const i32x4 0 0 0 0)) (local.set $c01 (v128.const i32x4 0 0 0 0))
            (local.set $c10 (v128.const i32x4 0 0 0 0)) (local.set $c11 (v128.const i32x4 0 0 0 0))
            (local.set $c20 (v128.const i32x4 0 0 0 0)) (local.set $c21 (v128.const i32x4 0 0 0 0))
            (local.set $c30 (v128.const i32x4 0 0 0 0)) (local.set $c31 (v128.const i32x4 0 0 0 0))
            (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai4))))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $kk (local.get $k))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.eqz (local.get $kk)))
                (local.set $b0 (v128.load (local.get $pb)))
                (local.set $b1 (v128.load offset=16 (local.get $pb)))
                (local.set $x (v128.load32_splat (local.get $pa)))
                (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $pa) (local.get $sai4))))
                (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $pa) (local.get $sai8))))
                (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $x (v128.load32_splat (i32.add (local.get $pa) (local.get $sai12))))
                (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
                (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
                (local.set $pa (i32.add (local.get $pa) (local.get $sak4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
                (br $kLoop)))
            (local.set $pc (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))))
            (v128.store (local.get $pc) (local.get $c00))
            (v128.store offset=16 (local.get $pc) (local.get $c01))
            (local.set $pc (i32.add (local.get $pc) (local.get $rowB)))
            (v128.store (local.get $pc) (local.get $c10))
            (v128.store offset=16 (local.get $pc) (local.get $c11))
            (local.set $pc (i32.add (local.get $pc) (local.get $rowB)))
            (v128.store (local.get $pc) (local.get $c20))
            (v128.store offset=16 (local.get $pc) (local.get $c21))
            (local.set $pc (i32.add (local.get $pc) (local.get $rowB)))
            (v128.store (local.get $pc) (local.get $c30))
            (v128.store offset=16 (local.get $pc) (local.get $c31))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $colBlock)))
        ;; these 4 rows' last n - n8 columns
        (call $gemmRows (local.get $a) (local.get $sai4) (local.get $sak4) (local.get $b) (local.get $c) (local.get $n) (local.get $k)
          (local.get $i) (i32.add (local.get $i) (i32.const 4)) (local.get $n8))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rowBlock)))
    ;; the last m - m4 rows, every column
    (call $gemmRows (local.get $a) (local.get $sai4) (local.get $sak4) (local.get $b) (local.get $c) (local.get $n) (local.get $k)
      (local.get $m4) (local.get $m) (i32.const 0)))

  ;; Rows i0 <= i < i1 of C, columns j0 <= j < n: 4 columns at a time, then one.
  (func $gemmRows
    (param $a i32) (param $sai4 i32) (param $sak4 i32) (param $b i32) (param $c i32) (param $n i32) (param $k i32)
    (param $i i32) (param $i1 i32) (param $j0 i32)
    (local $j i32) (local $pa i32) (local $pb i32) (local $kk i32) (local $rowB i32) (local $acc v128) (local $s f32)
    (local.set $rowB (i32.shl (local.get $n) (i32.const 2)))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $i1)))
        (local.set $j (local.get $j0))
        (block $vecDone
          (loop $vec
            (br_if $vecDone (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $n)))
            (local.set $acc (v128.const i32x4 0 0 0 0))
            (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai4))))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $kk (local.get $k))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.eqz (local.get $kk)))
                (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (v128.load32_splat (local.get $pa)) (v128.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $sak4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
                (br $kLoop)))
            (v128.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $vec)))
        (block $oneDone
          (loop $one
            (br_if $oneDone (i32.ge_u (local.get $j) (local.get $n)))
            (local.set $s (f32.const 0))
            (local.set $pa (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $sai4))))
            (local.set $pb (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $kk (local.get $k))
            (block $kDone
              (loop $kLoop
                (br_if $kDone (i32.eqz (local.get $kk)))
                (local.set $s (f32.add (local.get $s) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pb)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $sak4)))
                (local.set $pb (i32.add (local.get $pb) (local.get $rowB)))
                (local.set $kk (i32.sub (local.get $kk) (i32.const 1)))
                (br $kLoop)))
            (f32.store (i32.add (local.get $c) (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 2))) (local.get $s))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $one)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; dst [cols, rows] = src [rows, cols] transposed.
  (func (export "transpose") (param $src i32) (param $rows i32) (param $cols i32) (param $dst i32)
    (local $i i32) (local $j i32) (local $p i32)
    (local.set $p (local.get $src))
    (block $rowsDone
      (loop $row
        (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $colsDone
          (loop $col
            (br_if $colsDone (i32.ge_u (local.get $j) (local.get $cols)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $rows)) (local.get $i)) (i32.const 2)))
              (f32.load (local.get $p)))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $col)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $row))))

  ;; ---------------------------------------------------------------- concatenation and split
  ;; dst[r, j] = src[r, j] for r < rows, j < w, between row strides srcStride and dstStride (floats):
  ;; one input of a concatenation along the last axis, or one output of a split along it.
  (func (export "copyBlock") (param $src i32) (param $srcStride i32) (param $dst i32) (param $dstStride i32) (param $rows i32) (param $w i32)
    (local $j i32) (local $w4 i32) (local $srcRow i32) (local $dstRow i32)
    (local.set $srcStride (i32.shl (local.get $srcStride) (i32.const 2)))
    (local.set $dstStride (i32.shl (local.get $dstStride) (i32.const 2)))
    (local.set $w (i32.shl (local.get $w) (i32.const 2)))
    (local.set $w4 (i32.and (local.get $w) (i32.const -16)))
    (block $done
      (loop $row
        (br_if $done (i32.eqz (local.get $rows)))
        (local.set $j (i32.const 0))
        (block $vecDone
          (loop $vec
            (br_if $vecDone (i32.ge_u (local.get $j) (local.get $w4)))
            (v128.store (i32.add (local.get $dst) (local.get $j)) (v128.load (i32.add (local.get $src) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $vec)))
        (block $oneDone
          (loop $one
            (br_if $oneDone (i32.ge_u (local.get $j) (local.get $w)))
            (f32.store (i32.add (local.get $dst) (local.get $j)) (f32.load (i32.add (local.get $src) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $one)))
        (local.set $src (i32.add (local.get $src) (local.get $srcStride)))
        (local.set $dst (i32.add (local.get $dst) (local.get $dstStride)))
        (local.set $rows (i32.sub (local.get $rows) (i32.const 1)))
        (br $row))))

  ;; ---------------------------------------------------------------- SGD
  ;; g' = g + lambda w (decay != 0) or g;  v <- mu v + g';  w <- w - lr v  (mu = 0: w <- w - lr g').
  ;; momentum = 0 reads and writes no velocity; decay = 0 adds no decay term (0 w is not always 0).
  (func (export "sgdUpdate")
    (param $w i32) (param $g i32) (param $v i32) (param $wOut i32) (param $vOut i32) (param $n i32)
    (param $lr f32) (param $mu f32) (param $lambda f32) (param $momentum i32) (param $decay i32)
    (local $i i32) (local $end i32) (local $lr4 v128) (local $mu4 v128) (local $lambda4 v128)
    (local $g4 v128) (local $v4 v128) (local $w4 v128)
    (local $gs f32) (local $vs f32) (local $ws f32)
    (local.set $lr4 (f32x4.splat (local.get $lr)))
    (local.set $mu4 (f32x4.splat (local.get $mu)))
    (local.set $lambda4 (f32x4.splat (local.get $lambda)))
    (local.set $end (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $w4 (v128.load (i32.add (local.get $w) (local.get $i))))
        (local.set $g4 (v128.load (i32.add (local.get $g) (local.get $i))))
        (if (local.get $decay)
          (then (local.set $g4 (f32x4.add (local.get $g4) (f32x4.mul (local.get $w4) (local.get $lambda4))))))
        (if (local.get $momentum)
          (then
            (local.set $g4
              (f32x4.add (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $i))) (local.get $mu4)) (local.get $g4)))
            (v128.store (i32.add (local.get $vOut) (local.get $i)) (local.get $g4))))
        (v128.store (i32.add (local.get $wOut) (local.get $i))
          (f32x4.sub (local.get $w4) (f32x4.mul (local.get $g4) (local.get $lr4))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $ws (f32.load (i32.add (local.get $w) (local.get $i))))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $i))))
        (if (local.get $decay)
          (then (local.set $gs (f32.add (local.get $gs) (f32.mul (local.get $ws) (local.get $lambda))))))
        (if (local.get $momentum)
          (then
            (local.set $gs
              (f32.add (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $mu)) (local.get $gs)))
            (f32.store (i32.add (local.get $vOut) (local.get $i)) (local.get $gs))))
        (f32.store (i32.add (local.get $wOut) (local.get $i))
          (f32.sub (local.get $ws) (f32.mul (local.get $gs) (local.get $lr))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next))))

  ;; ---------------------------------------------------------------- BN forward
  ;; sum[j] += x[i, j] over the rows (sum: f64 [c], zeroed by the caller).
  (func (export "channelSum") (param $x i32) (param $rows i32) (param $c i32) (param $sum i32)
    (local $p i32) (local $end i32) (local $rowEnd i32) (local $k i32) (local $v v128)
    (local.set $p (local.get $x))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $k (local.get $sum))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (local.set $v (v128.load (local.get $p)))
            (v128.store (local.get $k)
              (f64x2.add (v128.load (local.get $k)) (f64x2.promote_low_f32x4 (local.get $v))))
            (v128.store offset=16 (local.get $k)
              (f64x2.add (v128.load offset=16 (local.get $k)) (call $promoteHigh (local.get $v))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 32)))
            (br $col)))
        (br $row))))

  ;; sq[j] += (x[i, j] - mu[j])^2 over the rows, in float64 (mu: f64 [c]; sq: f64 [c], zeroed).
  (func (export "channelSquaredDeviation") (param $x i32) (param $rows i32) (param $c i32) (param $mu i32) (param $sq i32)
    (local $p i32) (local $end i32) (local $rowEnd i32) (local $k i32) (local $v v128) (local $d v128)
    (local.set $p (local.get $x))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $d
              (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (v128.load (i32.add (local.get $mu) (local.get $k)))))
            (v128.store (i32.add (local.get $sq) (local.get $k))
              (f64x2.add (v128.load (i32.add (local.get $sq) (local.get $k))) (f64x2.mul (local.get $d) (local.get $d))))
            (local.set $d
              (f64x2.sub (call $promoteHigh (local.get $v)) (v128.load offset=16 (i32.add (local.get $mu) (local.get $k)))))
            (v128.store offset=16 (i32.add (local.get $sq) (local.get $k))
              (f64x2.add (v128.load offset=16 (i32.add (local.get $sq) (local.get $k))) (f64x2.mul (local.get $d) (local.get $d))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 32)))
            (br $col)))
        (br $row))))

  ;; xhat = (x - mu) invStd, rounded once (float64: mu, invStd: f64 [c]); y = gamma xhat + beta in float32 (gamma, beta: f32 [c]).
  (func (export "normalize")
    (param $x i32) (param $rows i32) (param $c i32) (param $mu i32) (param $invStd i32)
    (param $gamma i32) (param $beta i32) (param $xhat i32) (param $y i32)
    (local $p i32) (local $end i32) (local $rowEnd i32) (local $k i32) (local $v v128) (local $h v128) (local $o i32)
    (local.set $p (local.get $x))
    (local.set $end (i32.add (local.get $x) (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2))))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (local.set $v (v128.load (local.get $p)))
            (local.set $h
              (call $demote
                (f64x2.mul
                  (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v)) (v128.load (i32.add (local.get $mu) (local.get $k))))
                  (v128.load (i32.add (local.get $invStd) (local.get $k))))
                (f64x2.mul
                  (f64x2.sub (call $promoteHigh (local.get $v)) (v128.load offset=16 (i32.add (local.get $mu) (local.get $k))))
                  (v128.load offset=16 (i32.add (local.get $invStd) (local.get $k))))))
            ;; $o: this element's byte offset from the start of x (outputs have x's layout)
            (local.set $o (i32.sub (local.get $p) (local.get $x)))
            (v128.store (i32.add (local.get $xhat) (local.get $o)) (local.get $h))
            (v128.store (i32.add (local.get $y) (local.get $o))
              (f32x4.add
                (f32x4.mul (local.get $h) (v128.load (i32.add (local.get $gamma) (i32.shr_u (local.get $k) (i32.const 1)))))
                (v128.load (i32.add (local.get $beta) (i32.shr_u (local.get $k) (i32.const 1))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 32)))
            (br $col)))
        (br $row))))

  ;; ---------------------------------------------------------------- BN backward
  ;; sb[j] += dy[i, j] and sg[j] += dy[i, j] xhat[i, j] over the rows, in float64 (sb, sg: f64 [c], zeroed).
  (func (export "gradientSums") (param $dy i32) (param $xhat i32) (param $rows i32) (param $c i32) (param $sb i32) (param $sg i32)
    (local $p i32) (local $end i32) (local $rowEnd i32) (local $k i32) (local $d v128) (local $h v128) (local $t v128)
    (local.set $p (i32.const 0))
    (local.set $end (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (local.set $d (v128.load (i32.add (local.get $dy) (local.get $p))))
            (local.set $h (v128.load (i32.add (local.get $xhat) (local.get $p))))
            (local.set $t (f64x2.promote_low_f32x4 (local.get $d)))
            (v128.store (i32.add (local.get $sb) (local.get $k))
              (f64x2.add (v128.load (i32.add (local.get $sb) (local.get $k))) (local.get $t)))
            (v128.store (i32.add (local.get $sg) (local.get $k))
              (f64x2.add (v128.load (i32.add (local.get $sg) (local.get $k)))
                (f64x2.mul (local.get $t) (f64x2.promote_low_f32x4 (local.get $h)))))
            (local.set $t (call $promoteHigh (local.get $d)))
            (v128.store offset=16 (i32.add (local.get $sb) (local.get $k))
              (f64x2.add (v128.load offset=16 (i32.add (local.get $sb) (local.get $k))) (local.get $t)))
            (v128.store offset=16 (i32.add (local.get $sg) (local.get $k))
              (f64x2.add (v128.load offset=16 (i32.add (local.get $sg) (local.get $k)))
                (f64x2.mul (local.get $t) (call $promoteHigh (local.get $h)))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 32)))
            (br $col)))
        (br $row))))

  ;; dx = scale (dy - sb - xhat sg), in float64 and rounded once (scale, sb, sg: f64 [c]; sb and sg already divided by m).
  (func (export "inputGradient")
    (param $dy i32) (param $xhat i32) (param $rows i32) (param $c i32)
    (param $scale i32) (param $sb i32) (param $sg i32) (param $dx i32)
    (local $p i32) (local $end i32) (local $rowEnd i32) (local $k i32) (local $d v128) (local $h v128)
    (local.set $p (i32.const 0))
    (local.set $end (i32.shl (i32.mul (local.get $rows) (local.get $c)) (i32.const 2)))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $rowEnd (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $rowEnd)))
            (local.set $d (v128.load (i32.add (local.get $dy) (local.get $p))))
            (local.set $h (v128.load (i32.add (local.get $xhat) (local.get $p))))
            (v128.store (i32.add (local.get $dx) (local.get $p))
              (call $demote
                (f64x2.mul
                  (v128.load (i32.add (local.get $scale) (local.get $k)))
                  (f64x2.sub
                    (f64x2.sub (f64x2.promote_low_f32x4 (local.get $d)) (v128.load (i32.add (local.get $sb) (local.get $k))))
                    (f64x2.mul (f64x2.promote_low_f32x4 (local.get $h)) (v128.load (i32.add (local.get $sg) (local.get $k))))))
                (f64x2.mul
                  (v128.load offset=16 (i32.add (local.get $scale) (local.get $k)))
                  (f64x2.sub
                    (f64x2.sub (call $promoteHigh (local.get $d)) (v128.load offset=16 (i32.add (local.get $sb) (local.get $k))))
                    (f64x2.mul (call $promoteHigh (local.get $h)) (v128.load offset=16 (i32.add (local.get $sg) (local.get $k))))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 32)))
            (br $col)))
        (br $row))))
)
