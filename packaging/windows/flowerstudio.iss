; Inno Setup 6 script: the Windows installer around the PyInstaller folder (packaging/build_windows.ps1 runs it).
; Installs for the current user (no admin needed; an admin may choose all users), adds a Start-menu entry.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F3A1C52-8E0B-4B7A-9C2D-F10E5A7B3D41}
AppName=Flower Studio
AppVersion={#AppVersion}
AppPublisher=Flower Studio
DefaultDirName={autopf}\Flower Studio
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=FlowerStudio-windows-x86_64-setup
Compression=lzma2/max
SolidCompression=yes
UninstallDisplayIcon={app}\FlowerStudio.exe
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; Flags: unchecked

[Files]
Source: "..\..\build\bundle\dist\FlowerStudio\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Flower Studio"; Filename: "{app}\FlowerStudio.exe"
Name: "{autodesktop}\Flower Studio"; Filename: "{app}\FlowerStudio.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\FlowerStudio.exe"; Description: "{cm:LaunchProgram,Flower Studio}"; Flags: nowait postinstall skipifsilent
