// Makes TorchSharp's native bridge (libLibTorchSharp.so) load on hosts whose libstdc++ is older than GCC 13.
//
// TorchSharp 0.107.0 is linked against GCC 13's libstdc++ and so asks for the version node GLIBCXX_3.4.32, which
// Debian 12 (GCC 12) lacks. The only symbol it binds to that node is std::ios_base_library_init, which GCC 13's
// <iostream> references purely to pull stream initialisation into the link; nothing ever calls it. Marking the
// version requirement weak (VER_FLG_WEAK) and the symbol weak (STB_WEAK) lets the loader accept the library.
//
// This file is compiled twice: by MSBuild's RoslynCodeTaskFactory (see build/TorchSharpNative.targets), where it must
// stay within C# 7.3 and netstandard2.0, and by the build tests with ELF_PATCHER_NO_MSBUILD defined, which test the
// patcher without MSBuild.
#if ELF_PATCHER_NO_MSBUILD
#nullable disable
#endif
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace FairNad.Build.TorchNative
{
    /// <summary>What <see cref="ElfVersionPatcher.Patch"/> changed, or would change.</summary>
    public sealed class ElfPatchReport
    {
        public ElfPatchReport(IList<string> missingVersions, IList<string> weakenedSymbols)
        {
            MissingVersions = missingVersions;
            WeakenedSymbols = weakenedSymbols;
        }

        /// <summary>Version nodes the library requires from the given dependency that the host does not define.</summary>
        public IList<string> MissingVersions { get; private set; }

        /// <summary>Undefined dynamic symbols bound to a missing version node.</summary>
        public IList<string> WeakenedSymbols { get; private set; }

        public bool NeedsPatch { get { return MissingVersions.Count > 0; } }
    }

    /// <summary>Reads and edits the GNU symbol-versioning sections of a 64-bit little-endian ELF shared object.</summary>
    public static class ElfVersionPatcher
    {
        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerdef = 0x6ffffffd;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;
        private const ushort VerFlgWeak = 0x2;
        private const byte StbWeak = 2;

        /// <summary>Symbols known to be referenced only for link-time side effects, so they may stay unresolved.</summary>
        public static readonly IReadOnlyCollection<string> ReferenceOnlySymbols = new[] { "_ZSt21ios_base_library_initv" };

        /// <summary>The version nodes a shared library defines (its .gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
        public static ISet<string> ReadDefinedVersions(byte[] elf)
        {
            var result = new HashSet<string>(StringComparer.Ordinal);
            var sections = ReadSections(elf);
            foreach (var verdef in sections.Where(s => s.Type == ShtGnuVerdef))
            {
                var strtab = sections[(int)verdef.Link];
                long offset = verdef.Offset;
                for (var entry = 0; entry < verdef.Info; entry++)
                {
                    var auxOffset = offset + U32(elf, offset + 12);
                    result.Add(ReadString(elf, strtab.Offset + U32(elf, auxOffset)));
                    var next = U32(elf, offset + 16);
                    if (next == 0) break;
                    offset += next;
                }
            }

            return result;
        }

        /// <summary>
        /// Weakens every version requirement on <paramref name="dependency"/> that <paramref name="provided"/> lacks, and every
        /// undefined dynamic symbol bound to one of them. Edits <paramref name="elf"/> in place when <paramref name="apply"/>.
        /// </summary>
        public static ElfPatchReport Patch(byte[] elf, string dependency, ISet<string> provided, bool apply)
        {
            var sections = ReadSections(elf);
            var verneed = sections.FirstOrDefault(s => s.Type == ShtGnuVerneed);
            if (verneed == null) return new ElfPatchReport(new List<string>(), new List<string>());

            var verneedStrings = sections[(int)verneed.Link];
            var missing = new List<string>();
            var missingIndexes = new HashSet<ushort>();
            long offset = verneed.Offset;
            for (var entry = 0; entry < verneed.Info; entry++)
            {
                var count = U16(elf, offset + 2);
                var file = ReadString(elf, verneedStrings.Offset + U32(elf, offset + 4));
                long aux = offset + U32(elf, offset + 8);
                for (var a = 0; a < count; a++)
                {
                    var name = ReadString(elf, verneedStrings.Offset + U32(elf, aux + 8));
                    if (file == dependency && !provided.Contains(name))
                    {
                        missing.Add(name);
                        missingIndexes.Add((ushort)(U16(elf, aux + 6) & 0x7fff));
                        if (apply) W16(elf, aux + 4, (ushort)(U16(elf, aux + 4) | VerFlgWeak));
                    }

                    var nextAux = U32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += nextAux;
                }

                var next = U32(elf, offset + 12);
                if (next == 0) break;
                offset += next;
            }

            var weakened = new List<string>();
            var dynsym = sections.FirstOrDefault(s => s.Type == ShtDynsym);
            var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
            if (missing.Count > 0 && dynsym != null && versym != null)
            {
                var symbolStrings = sections[(int)dynsym.Link];
                var symbolCount = dynsym.Size / 24;
                for (long i = 0; i < symbolCount; i++)
                {
                    var version = (ushort)(U16(elf, versym.Offset + (i * 2)) & 0x7fff);
                    if (!missingIndexes.Contains(version)) continue;
                    var symbol = dynsym.Offset + (i * 24);
                    var shndx = U16(elf, symbol + 6);
                    if (shndx != 0) continue; // defined here, not imported
                    weakened.Add(ReadString(elf, symbolStrings.Offset + U32(elf, symbol)));
                    if (apply) elf[symbol + 4] = (byte)((StbWeak << 4) | (elf[symbol + 4] & 0xf));
                }
            }

            return new ElfPatchReport(missing, weakened);
        }

        /// <summary>Finds the libstdc++ the dynamic loader would use: LD_LIBRARY_PATH first, then the standard directories.</summary>
        public static string FindHostLibrary(string soname)
        {
            var dirs = new List<string>();
            var ldPath = Environment.GetEnvironmentVariable("LD_LIBRARY_PATH");
            if (!string.IsNullOrEmpty(ldPath)) dirs.AddRange(ldPath.Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries));
            dirs.AddRange(new[]
            {
                "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
            });
            foreach (var dir in dirs)
            {
                var candidate = Path.Combine(dir, soname);
                if (File.Exists(candidate)) return candidate;
            }

            return null;
        }

        private sealed class Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
        }

        private static List<Section> ReadSections(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                throw new InvalidDataException("not an ELF file");
            if (elf[4] != 2 || elf[5] != 1)
                throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("the ELF patcher runs only on little-endian hosts");

            var shoff = (long)BitConverter.ToUInt64(elf, 0x28);
            var shentsize = U16(elf, 0x3a);
            var shnum = U16(elf, 0x3c);
            if (shoff <= 0 || shentsize < 64 || shoff + ((long)shnum * shentsize) > elf.Length)
                throw new InvalidDataException("section header table is missing or truncated");

            var sections = new List<Section>(shnum);
            for (var i = 0; i < shnum; i++)
            {
                var header = shoff + ((long)i * shentsize);
                sections.Add(new Section
                {
                    Type = U32(elf, header + 4),
                    Offset = (long)BitConverter.ToUInt64(elf, (int)(header + 24)),
                    Size = (long)BitConverter.ToUInt64(elf, (int)(header + 32)),
                    Link = U32(elf, header + 40),
                    Info = U32(elf, header + 44),
                });
            }

            return sections;
        }

        private static ushort U16(byte[] b, long offset) { return BitConverter.ToUInt16(b, checked((int)offset)); }

        private static uint U32(byte[] b, long offset) { return BitConverter.ToUInt32(b, checked((int)offset)); }

        private static void W16(byte[] b, long offset, ushort value)
        {
            b[offset] = (byte)(value & 0xff);
            b[offset + 1] = (byte)(value >> 8);
        }

        private static string ReadString(byte[] b, long offset)
        {
            var end = offset;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, checked((int)offset), checked((int)(end - offset)));
        }
    }

    /// <summary>Decides whether the host needs the fix and writes the patched copy; pure I/O, no MSBuild types.</summary>
    public static class TorchSharpNativeFix
    {
        public const string Dependency = "libstdc++.so.6";

        /// <summary>
        /// Returns the path to load: <paramref name="source"/> itself when the host satisfies every version it needs, else a
        /// patched copy at <paramref name="patchedPath"/> (rewritten only when missing or older than the source).
        /// </summary>
        public static string Resolve(string source, string patchedPath, string hostLibrary, Action<string> log)
        {
            if (hostLibrary == null)
            {
                log("no " + Dependency + " found on this host; using TorchSharp's native library unchanged");
                return source;
            }

            var provided = ElfVersionPatcher.ReadDefinedVersions(File.ReadAllBytes(hostLibrary));
            var elf = File.ReadAllBytes(source);
            var report = ElfVersionPatcher.Patch(elf, Dependency, provided, apply: false);
            if (!report.NeedsPatch)
            {
                return source;
            }

            var unsafeSymbols = report.WeakenedSymbols.Where(s => !ElfVersionPatcher.ReferenceOnlySymbols.Contains(s)).ToList();
            if (unsafeSymbols.Count > 0)
            {
                throw new InvalidOperationException(
                    source + " needs " + string.Join(", ", report.MissingVersions) + " from " + Dependency + ", which " + hostLibrary +
                    " lacks, and binds symbols to it that may be called (" + string.Join(", ", unsafeSymbols) +
                    "); weakening them is not safe. Install a newer libstdc++ (GCC 13 or later).");
            }

            var upToDate = File.Exists(patchedPath) && File.GetLastWriteTimeUtc(patchedPath) >= File.GetLastWriteTimeUtc(source);
            if (!upToDate)
            {
                ElfVersionPatcher.Patch(elf, Dependency, provided, apply: true);
                Directory.CreateDirectory(Path.GetDirectoryName(patchedPath));
                var temp = patchedPath + ".tmp";
                File.WriteAllBytes(temp, elf);
                if (File.Exists(patchedPath)) File.Delete(patchedPath);
                File.Move(temp, patchedPath);
                log("patched " + Path.GetFileName(source) + " for " + hostLibrary + " (missing " + string.Join(", ", report.MissingVersions) +
                    "; weakened " + string.Join(", ", report.WeakenedSymbols) + ") -> " + patchedPath);
            }

            return patchedPath;
        }
    }

#if !ELF_PATCHER_NO_MSBUILD
    /// <summary>MSBuild entry point: <c>Source</c> in, <c>Result</c> (the file to copy to the output) out.</summary>
    public sealed class PatchTorchSharpNative : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public string Source { get; set; }

        [Microsoft.Build.Framework.Required]
        public string PatchedPath { get; set; }

        [Microsoft.Build.Framework.Output]
        public string Result { get; set; }

        public override bool Execute()
        {
            try
            {
                var host = ElfVersionPatcher.FindHostLibrary(TorchSharpNativeFix.Dependency);
                Result = TorchSharpNativeFix.Resolve(
                    Source, PatchedPath, host, m => Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal, m));
                return true;
            }
            catch (Exception e)
            {
                Log.LogError("FairNad TorchSharp native fix: " + e.Message);
                return false;
            }
        }
    }
#endif
}
