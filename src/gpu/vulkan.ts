/**
 * Why Dawn found no WebGPU adapter, in terms of what to install. On Linux
 * Dawn reaches the GPU through Vulkan: the loader (libvulkan.so.1) reads the
 * drivers' ICD manifests (JSON files naming each driver's library). A missing
 * loader, no manifest, or a driver Dawn rejects are the three usual causes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const LOADER = 'libvulkan.so.1';

/** Directories the dynamic linker searches: LD_LIBRARY_PATH, /etc/ld.so.conf(.d), and the defaults. */
function libraryDirs(): string[] {
  const dirs = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean);
  const confs = ['/etc/ld.so.conf'];
  try {
    confs.push(
      ...fs
        .readdirSync('/etc/ld.so.conf.d')
        .filter((f) => f.endsWith('.conf'))
        .map((f) => path.join('/etc/ld.so.conf.d', f)),
    );
  } catch {
    // no conf.d: only the defaults below
  }
  for (const conf of confs) {
    try {
      for (const line of fs.readFileSync(conf, 'utf8').split('\n')) {
        const d = line.trim();
        if (d.startsWith('/')) dirs.push(d);
      }
    } catch {
      // unreadable conf files add nothing
    }
  }
  const triplet = process.arch === 'arm64' ? 'aarch64-linux-gnu' : 'x86_64-linux-gnu';
  return [...dirs, `/lib/${triplet}`, `/usr/lib/${triplet}`, '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib'];
}

export function findVulkanLoader(): string | null {
  for (const d of libraryDirs()) {
    const f = path.join(d, LOADER);
    if (fs.existsSync(f)) return f;
  }
  return null;
}

/** An ICD manifest is a JSON object with an "ICD" section naming the driver library. */
function isIcdManifest(file: string): boolean {
  try {
    const j = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    return typeof j === 'object' && j !== null && 'ICD' in j;
  } catch {
    return false;
  }
}

function jsonFilesIn(entry: string): string[] {
  let files: string[];
  try {
    files = fs.statSync(entry).isDirectory()
      ? fs
          .readdirSync(entry)
          .filter((f) => f.endsWith('.json'))
          .map((f) => path.join(entry, f))
      : [entry];
  } catch {
    return [];
  }
  return files.filter(isIcdManifest);
}

/**
 * The ICD manifests the Vulkan loader would read: those the environment
 * names (VK_DRIVER_FILES, or the older VK_ICD_FILENAMES, replace the search),
 * else the XDG config and data directories' vulkan/icd.d.
 */
export function findIcds(): { files: string[]; source: string } {
  for (const v of ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES']) {
    const value = process.env[v];
    if (value) return { files: value.split(':').filter(Boolean).flatMap(jsonFilesIn), source: `${v}=${value}` };
  }
  const home = os.homedir();
  const config = [process.env.XDG_CONFIG_HOME ?? path.join(home, '.config'), ...(process.env.XDG_CONFIG_DIRS ?? '/etc/xdg').split(':'), '/etc'];
  const data = [process.env.XDG_DATA_HOME ?? path.join(home, '.local/share'), ...(process.env.XDG_DATA_DIRS ?? '/usr/local/share:/usr/share').split(':')];
  const dirs = [...config, ...data].filter(Boolean).map((d) => path.join(d, 'vulkan', 'icd.d'));
  return { files: [...new Set(dirs.flatMap(jsonFilesIn))], source: 'vulkan/icd.d under /etc, /usr/share and the XDG directories' };
}

/** What to install so Dawn finds an adapter, as one clause for an error line. */
export function diagnoseNoAdapter(): string {
  if (process.platform !== 'linux') return 'Dawn found no WebGPU adapter: update the GPU driver (Dawn uses Metal on macOS, D3D12 or Vulkan on Windows)';
  if (findVulkanLoader() === null)
    return `the Vulkan loader ${LOADER} is not installed: install libvulkan1 (Debian/Ubuntu; vulkan-loader elsewhere) and the GPU driver's Vulkan ICD`;
  const icds = findIcds();
  if (icds.files.length === 0) {
    return `no Vulkan driver (ICD manifest) found (${icds.source}): install the GPU driver with its Vulkan ICD (NVIDIA: nvidia_icd.json comes with the driver; in a container set NVIDIA_DRIVER_CAPABILITIES to include graphics), or mesa-vulkan-drivers for a CPU emulation`;
  }
  const names = icds.files.map((f) => path.basename(f)).join(', ');
  return `Dawn found no usable adapter among the Vulkan drivers ${names}: the driver may be too old for Dawn (Mesa's lavapipe needs Mesa 25, e.g. mesa-vulkan-drivers from Debian bookworm-backports; NVIDIA needs a driver with Vulkan 1.1) or may not see the GPU (in a container, NVIDIA_DRIVER_CAPABILITIES must include graphics)`;
}
