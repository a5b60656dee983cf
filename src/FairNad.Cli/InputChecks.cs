using System.CommandLine;
using FairNad.Lineage;

namespace FairNad.Cli;

/// <summary>
/// Checks of what a command line names, made before a command reads or writes anything, so that a wrong path or name is
/// an error that names it (exit 2), never a stack trace or a file in an unexpected place.
/// </summary>
internal static class InputChecks
{
    /// <summary>
    /// Refuses, while parsing (before any command runs), a value of <paramref name="option"/> that is not a usable run
    /// name (<see cref="LineageLayout.CheckRunName"/>: 1-100 letters, digits, '.', '_' or '-', not starting with '.' or '-',
    /// no '..', not ending in .lock), so that no run folder or branch is made outside its place.
    /// </summary>
    public static TOption RunName<TOption>(this TOption option)
        where TOption : Option
    {
        option.Validators.Add(result =>
        {
            foreach (var token in result.Tokens)
            {
                try
                {
                    LineageLayout.CheckRunName(token.Value);
                }
                catch (LineageException e)
                {
                    result.AddError($"{option.Name}: {e.Message}");
                }
            }
        });
        return option;
    }

    /// <summary>The text of a file that <paramref name="what"/> names (an option or argument, e.g. "--tree").</summary>
    /// <exception cref="UsageException">the path is a directory, does not exist or cannot be read.</exception>
    public static string ReadText(string path, string what, string expected)
    {
        RequireFile(path, what, expected);
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{what} {path}: cannot read {expected}: {e.Message}");
        }
    }

    /// <exception cref="UsageException">the path is a directory or does not exist.</exception>
    public static void RequireFile(string path, string what, string expected)
    {
        if (Directory.Exists(path))
        {
            throw new UsageException($"{what} {path} is a directory; expected {expected}");
        }

        if (!File.Exists(path))
        {
            throw new UsageException($"{what} {path} does not exist; expected {expected}");
        }
    }

    /// <exception cref="UsageException">the path is a file or does not exist.</exception>
    public static void RequireDirectory(string path, string what, string expected)
    {
        if (File.Exists(path))
        {
            throw new UsageException($"{what} {path} is a file; expected {expected}");
        }

        if (!Directory.Exists(path))
        {
            throw new UsageException($"{what} {path} does not exist; expected {expected}");
        }
    }

    /// <summary>A folder the command will create or write into must not be a file.</summary>
    /// <exception cref="UsageException">the path is a file.</exception>
    public static void NotAFile(string path, string what, string expected)
    {
        if (File.Exists(path))
        {
            throw new UsageException($"{what} {path} is a file; expected {expected}");
        }
    }

    /// <summary>A file the command will write must not be a directory.</summary>
    /// <exception cref="UsageException">the path is a directory.</exception>
    public static void NotADirectory(string path, string what, string expected)
    {
        if (Directory.Exists(path))
        {
            throw new UsageException($"{what} {path} is a directory; expected {expected}");
        }
    }
}
