#!/usr/bin/env bash
# Bootstrapper: ./build.sh <Target> [--parameter value ...]   (./build.sh --help lists both)
# Uses `dotnet` from PATH; only when it is missing, installs the SDK that global.json names into .nuke/temp/dotnet
# with Microsoft's dotnet-install script (needs internet). Builds build/_build.csproj quietly, then runs it.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_PROJECT_FILE="$SCRIPT_DIR/build/_build.csproj"
TEMP_DIRECTORY="$SCRIPT_DIR/.nuke/temp"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export DOTNET_CLI_UI_LANGUAGE=en
export MSBUILDTERMINALLOGGER=off

if command -v dotnet >/dev/null 2>&1; then
    DOTNET_EXE=$(command -v dotnet)
else
    DOTNET_DIRECTORY="$TEMP_DIRECTORY/dotnet"
    DOTNET_EXE="$DOTNET_DIRECTORY/dotnet"
    if [[ ! -x "$DOTNET_EXE" ]]; then
        echo "dotnet not found on PATH; installing the SDK named in global.json into $DOTNET_DIRECTORY" >&2
        mkdir -p "$TEMP_DIRECTORY"
        curl -sSfL https://dot.net/v1/dotnet-install.sh -o "$TEMP_DIRECTORY/dotnet-install.sh"
        bash "$TEMP_DIRECTORY/dotnet-install.sh" --jsonfile "$SCRIPT_DIR/global.json" --install-dir "$DOTNET_DIRECTORY" --no-path
    fi
    export DOTNET_ROOT="$DOTNET_DIRECTORY"
    export PATH="$DOTNET_DIRECTORY:$PATH"
fi

mkdir -p "$TEMP_DIRECTORY"
if ! "$DOTNET_EXE" build "$BUILD_PROJECT_FILE" -nologo -clp:NoSummary -verbosity:quiet >"$TEMP_DIRECTORY/build.log" 2>&1; then
    cat "$TEMP_DIRECTORY/build.log" >&2
    echo "error: the build project did not compile (see above)" >&2
    exit 1
fi

exec "$DOTNET_EXE" run --project "$BUILD_PROJECT_FILE" --no-build --no-launch-profile -- "$@"
